// Image layers for tests: a directory tree written to disk, then packed with tar.c (which records the second
// name of a file as a hardlink, as layers do).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tar from 'tar';

/** Builds a tree in a fresh directory under `work` and returns it as an uncompressed layer tar. */
export function packTree(work: string, build: (dir: string) => void): Buffer {
  const dir = fs.mkdtempSync(path.join(work, 'tree-'));
  build(dir);
  const file = `${dir}.tar`;
  tar.c({ file, cwd: dir, sync: true, portable: true }, fs.readdirSync(dir).sort());
  return fs.readFileSync(file);
}

/** Writes `text` to `rel` inside `dir`, making its parent directories. */
export function writeTreeFile(dir: string, rel: string, text = ''): void {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), text);
}
