// A test bundle's rootfs: a copy of tslab's default busybox rootfs, made cheaply. Directories and regular files
// are copied (tests and runtimes write to them); the 268 applet symlinks are hard links to those of a template
// copy in the run's own temp dir: a symlink has no contents to write through, and its relative target resolves
// inside each copy. `cp -a` cost 50-130 ms of CPU per bundle here (a process spawned; each symlink made, owned
// and timestamped one by one), this ~10 ms: the config fuzzer's 300 cases went from 116 s to 70 s.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureDefaultRootfs } from '../../src/fs/busybox-rootfs.js';

/** The run's template (made once, by whichever process of the run gets there first). */
function template(runBase: string): string {
  const target = path.join(runBase, 'rootfs-template');
  if (fs.existsSync(target)) return target;
  const making = `${target}.${process.pid}`;
  execFileSync('cp', ['-a', ensureDefaultRootfs(), making]);
  try {
    fs.renameSync(making, target);
  } catch (err) {
    // Another process of the run made it meanwhile.
    if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    fs.rmSync(making, { recursive: true, force: true });
  }
  return target;
}

function copyTree(from: string, to: string): void {
  const dir = fs.lstatSync(from);
  fs.mkdirSync(to);
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const copy = path.join(to, entry.name);
    if (entry.isSymbolicLink()) fs.linkSync(source, copy);
    else if (entry.isDirectory()) copyTree(source, copy);
    else if (entry.isFile()) {
      fs.copyFileSync(source, copy);
      const st = fs.lstatSync(source);
      fs.chownSync(copy, st.uid, st.gid);
      fs.chmodSync(copy, st.mode & 0o7777);
    } else throw new Error(`${source}: the default rootfs has a ${entry.isFIFO() ? 'FIFO' : 'special file'}, which copyRootfs does not copy`);
  }
  fs.chownSync(to, dir.uid, dir.gid);
  fs.chmodSync(to, dir.mode & 0o7777);
}

/** Makes `to` (which must not exist) a copy of the default rootfs; `runBase` is the test run's temp dir. */
export function copyRootfs(runBase: string, to: string): void {
  copyTree(template(runBase), to);
}
