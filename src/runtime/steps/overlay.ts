// Lesson 13: an image is a stack of layers, and overlayfs stacks them at mount time: the unpacked layers are
// its read-only lower dirs, a container's writes go to its upper dir (copy-up), and a whiteout in a higher
// layer hides a file of a lower one. A layer tar says "deleted" with an empty ".wh.<name>" entry (OCI);
// overlayfs wants its own form, so unpacking a layer for overlayfs turns each marker into that form.
import * as path from 'node:path';
import { S_IFCHR, SyscallError, lsetxattr, makedev, mknod, mount } from '../../linux/index.js';

const EINVAL = 22;
const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
/** mount(2) copies its data argument as one page. */
const PAGE_SIZE = 4096;

/** A directory as an overlay option: ',' separates options and ':' lower dirs, so both (and '\') are escaped. */
function asOption(dir: string): string {
  return dir.replace(/[\\,:]/g, (c) => `\\${c}`);
}

/**
 * Mounts at `target` an overlay of `lowerDirs` (lowest layer first, as an image lists them) with `upperDir`
 * for writes and `workDir` (empty, on the same filesystem as upperDir, neither inside the other) for
 * overlayfs's own bookkeeping.
 */
export function mountOverlay(lowerDirs: readonly string[], upperDir: string, workDir: string, target: string): void {
  if (lowerDirs.length === 0) throw new SyscallError('mount', EINVAL, target, 'an overlay needs at least one lower directory');
  // overlayfs reads lowerdir from the top: the first directory listed hides the ones after it.
  const lower = [...lowerDirs].reverse().map(asOption).join(':');
  const data = `lowerdir=${lower},upperdir=${asOption(upperDir)},workdir=${asOption(workDir)}`;
  if (Buffer.byteLength(data) >= PAGE_SIZE) {
    throw new SyscallError('mount', EINVAL, target, `${lowerDirs.length} layers make the overlay's options longer than a page (${PAGE_SIZE} bytes)`);
  }
  mount('overlay', target, 'overlay', 0, data);
}

/**
 * Writes, in the layer directory `dir`, overlayfs's form of the OCI whiteout `marker` found there:
 * ".wh.<name>" becomes a character device 0:0 named <name>; ".wh..wh..opq" marks `dir` itself opaque
 * (trusted.overlay.opaque = "y": nothing of the layers below shows through it).
 */
export function applyWhiteout(dir: string, marker: string): void {
  if (marker === OPAQUE_MARKER) {
    lsetxattr(dir, 'trusted.overlay.opaque', 'y');
    return;
  }
  const name = marker.startsWith(WHITEOUT_PREFIX) ? marker.slice(WHITEOUT_PREFIX.length) : '';
  // The name comes from a layer's tar: one plain file name of `dir`, nothing that leaves it.
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new SyscallError('mknod', EINVAL, path.join(dir, marker), `${JSON.stringify(marker)} is not a whiteout of one file: ".wh.<name>" or ".wh..wh..opq"`);
  }
  mknod(path.join(dir, name), S_IFCHR, makedev(0, 0));
}
