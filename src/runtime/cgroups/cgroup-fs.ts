// The few filesystem operations the cgroup layer needs, behind an interface so unit tests can run the
// manager against an in-memory fake. Everything is synchronous: cgroup files are tiny, and the runtime calls
// this layer in windows (after unshare) where async fs calls would run on another thread.

import * as fs from 'node:fs';
import { joinCgroup } from '../steps/cgroup-join.js';

export interface CgroupFs {
  /** The whole file as text. */
  readFile(path: string): string;
  /**
   * Write `value` with a single write(2), opening the file O_WRONLY (no O_CREAT, no O_TRUNC): a cgroup file
   * is a command interface, and each write is one command. Several cgroup files (cgroup.kill, devices.allow)
   * are write-only, so they must not be opened for reading.
   */
  writeFile(path: string, value: string): void;
  /**
   * Moves process `pid` into the cgroup `dir` (writes it to `<dir>/cgroup.procs`). Optional: without it, a
   * plain writeFile of cgroup.procs does the same.
   */
  joinCgroup?(dir: string, pid: number): void;
  exists(path: string): boolean;
  /** mkdir(2), one level, throws EEXIST if present. */
  mkdir(path: string): void;
  /** rmdir(2): removing a cgroup directory (its control files go with it). */
  rmdir(path: string): void;
  /** Names of the subdirectories (child cgroups) of `path`. */
  listDirs(path: string): string[];
  /** Names of the control files of a cgroup (for per-size files such as hugetlb.2MB.max). Optional for fakes. */
  listFiles?(path: string): string[];
}

export const realCgroupFs: CgroupFs = {
  readFile: (path) => fs.readFileSync(path, 'utf8'),
  writeFile: (path, value) => {
    const fd = fs.openSync(path, fs.constants.O_WRONLY);
    try {
      fs.writeSync(fd, value);
    } finally {
      fs.closeSync(fd);
    }
  },
  joinCgroup: (dir, pid) => joinCgroup(dir, pid),
  exists: (path) => fs.existsSync(path),
  mkdir: (path) => fs.mkdirSync(path),
  rmdir: (path) => fs.rmdirSync(path),
  listDirs: (path) =>
    fs.readdirSync(path, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name),
  listFiles: (path) =>
    fs.readdirSync(path, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name),
};
