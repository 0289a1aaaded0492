// A container's files: an overlayfs root over the image's unpacked layers (read-only lower dirs, shared by
// every container of the image) with the container's own upper and work dirs; removed with the container.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MNT_DETACH, umount2 } from '../linux/mount.js';
import { parseMountinfo } from '../linux/mountinfo.js';
import { mountOverlay } from '../runtime/steps/overlay.js';
import { fileStep } from './file-step.js';
import { containerDir } from './engine-paths.js';
import type { ContainerRecord } from './record.js';

/** Mounts <dir>/rootfs as overlay of `lowerDirs` (lowest first) under <dir>/upper with <dir>/work. */
export function mountRootfs(id: string, lowerDirs: string[]): string {
  const dir = containerDir(id);
  const rootfs = path.join(dir, 'rootfs');
  for (const sub of ['rootfs', 'upper', 'work']) {
    fileStep("creating the container's overlay directory", path.join(dir, sub), () => fs.mkdirSync(path.join(dir, sub), { recursive: true }));
  }
  mountOverlay(lowerDirs, path.join(dir, 'upper'), path.join(dir, 'work'), rootfs);
  return rootfs;
}

function isMounted(target: string): boolean {
  const text = fileStep('reading the mount table', '/proc/self/mountinfo', () => fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  return parseMountinfo(text).some((entry) => entry.mountPoint === target);
}

export function unmountRootfs(record: ContainerRecord): void {
  // Where mountRootfs put it, not a path read back from the record.
  const rootfs = path.join(containerDir(record.id), 'rootfs');
  if (isMounted(rootfs)) umount2(rootfs, MNT_DETACH);
}

export function removeContainerFiles(record: ContainerRecord): void {
  unmountRootfs(record);
  const dir = containerDir(record.id);
  // Out of the containers' directory first, in one rename: `ps` and `inspect` read the record inside it, and
  // a recursive removal of a rootfs takes a while (ps showed a --rm container gone while its directory was
  // still there). No container id starts with a dot.
  const doomed = path.join(path.dirname(dir), `.removing-${record.id}-${process.pid}`);
  fileStep("removing the container's files", dir, () => {
    try {
      fs.renameSync(dir, doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    fs.rmSync(doomed, { recursive: true, force: true });
  });
}
