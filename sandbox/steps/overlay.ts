// LESSON 13 — Images: layers, whiteouts, an overlay root built by hand
//
// An image is a stack of layer directories. Write mountOverlay(lowerDirs, upperDir, workDir, target):
// mount('overlay', target, 'overlay', 0, 'lowerdir=TOP:...:BOTTOM,upperdir=...,workdir=...'). lowerDirs comes
// lowest first, but overlayfs wants the TOP layer first. Then applyWhiteout(dir, marker): a layer's ".wh.NAME"
// becomes a character device 0:0 named NAME in dir (mknod), and ".wh..wh..opq" the xattr
// trusted.overlay.opaque = "y" on dir itself (lsetxattr).
import * as path from 'node:path';
import { S_IFCHR, SyscallError, lsetxattr, makedev, mknod, mount } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export function mountOverlay(lowerDirs: readonly string[], upperDir: string, workDir: string, target: string): void {
  // TODO(lesson 13): mount an overlay of lowerDirs (lowest first) with upperDir and workDir at target.
  throw new NotWrittenYet(13, 'mountOverlay', 'overlay.ts', "lowerdir lists the top layer first: [...lowerDirs].reverse().join(':'); then ',upperdir=' + upperDir + ',workdir=' + workDir");
}

export function applyWhiteout(dir: string, marker: string): void {
  // TODO(lesson 13): turn the OCI whiteout `marker` (".wh.NAME" or ".wh..wh..opq") into overlayfs's own form in dir.
  throw new NotWrittenYet(13, 'applyWhiteout', 'overlay.ts', "'.wh..wh..opq': lsetxattr(dir, 'trusted.overlay.opaque', 'y'); '.wh.NAME': mknod(path.join(dir, NAME), S_IFCHR, makedev(0, 0))");
}
