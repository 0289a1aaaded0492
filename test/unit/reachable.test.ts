// Whether a mapped uid can reach a program: search permission on every directory above it, by owner, group
// or others, as the kernel checks it for a process in a user namespace.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { blockingDirectory, closePassage, nodeCommandFor } from '../../src/fs/reachable.js';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** <tmp>/outer/inner/program.cjs, outer with `mode`; returns the three paths. */
function tree(mode: number): { outer: string; inner: string; program: string } {
  const outer = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-unit-reach-'));
  made.push(outer);
  const inner = path.join(outer, 'inner');
  fs.mkdirSync(inner, { mode: 0o755 });
  const program = path.join(inner, 'program.cjs');
  fs.writeFileSync(program, '', { mode: 0o644 });
  fs.chmodSync(outer, mode);
  return { outer, inner, program };
}

describe('blockingDirectory', () => {
  test('a 0700 directory above the program blocks another uid, and names itself', () => {
    const { outer, program } = tree(0o700);
    expect(blockingDirectory(program, 100000, 100000)).toEqual({ dir: outer, mode: 0o700, owner: fs.statSync(outer).uid });
  });

  test('others may pass (o+x), or the uid owns it, or its group may pass: nothing blocks', () => {
    expect(blockingDirectory(tree(0o701).program, 100000, 100000)).toBeUndefined();
    const owned = tree(0o700);
    fs.chownSync(owned.outer, 100000, 0);
    expect(blockingDirectory(owned.program, 100000, 100000)).toBeUndefined();
    const grouped = tree(0o710);
    fs.chownSync(grouped.outer, 0, 100000);
    expect(blockingDirectory(grouped.program, 100000, 100000)).toBeUndefined();
    expect(blockingDirectory(grouped.program, 100000, 100001)).toEqual(expect.objectContaining({ dir: grouped.outer }));
  });

  test('an owner without x on its own directory is blocked even when others may pass', () => {
    const { outer, program } = tree(0o601);
    fs.chownSync(outer, 100000, 0);
    expect(blockingDirectory(program, 100000, 100000)).toEqual(expect.objectContaining({ dir: outer }));
  });
});

/** <tmp 0700>/pkg/{dist/stage.cjs, node_modules/koffi} and a node: a package as a clone under /root holds it. */
function privatePackage(): { top: string; pkg: string; script: string; node: string } {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-unit-reach-'));
  made.push(top);
  const pkg = path.join(top, 'pkg');
  const script = path.join(pkg, 'dist', 'stage.cjs');
  fs.mkdirSync(path.dirname(script), { recursive: true });
  fs.writeFileSync(script, '');
  const koffi = path.join(pkg, 'node_modules', 'koffi');
  fs.mkdirSync(koffi, { recursive: true });
  fs.writeFileSync(path.join(koffi, 'package.json'), '{"name": "koffi", "main": "index.cjs"}');
  fs.writeFileSync(path.join(koffi, 'index.cjs'), '');
  const node = path.join(top, 'node');
  fs.writeFileSync(node, '', { mode: 0o755 });
  fs.chmodSync(top, 0o700);
  return { top, pkg, script, node };
}

describe('nodeCommandFor', () => {
  test('a program every uid can reach is started by its paths, with nothing passed', () => {
    const { top, script, node } = privatePackage();
    fs.chmodSync(top, 0o711);
    expect(nodeCommandFor(node, script, 100000, 100000, 7)).toEqual({ argv: [node, script], fds: [], env: {} });
  });

  test('past a 0700 directory: node and the package root through fds, their numbers in the environment', () => {
    const { pkg, script, node } = privatePackage();
    const command = nodeCommandFor(node, script, 100000, 100000, 7);
    try {
      expect(command.argv).toEqual(['/proc/self/fd/7', '--preserve-symlinks', '--preserve-symlinks-main', '/proc/self/fd/8/dist/stage.cjs']);
      expect(command.env).toEqual({ TSLAB_PASSAGE_FDS: '7,8' });
      expect(command.fds.map((fd) => fs.readlinkSync(`/proc/self/fd/${fd}`))).toEqual([node, pkg]);
    } finally {
      for (const fd of command.fds) fs.closeSync(fd);
    }
  });

  test('a dependency the opening does not lead to (a 0700 node_modules) is refused, naming it', () => {
    const { pkg, script, node } = privatePackage();
    fs.chmodSync(path.join(pkg, 'node_modules'), 0o700);
    const before = fs.readdirSync('/proc/self/fd').length;
    expect(() => nodeCommandFor(node, script, 100000, 100000, 7)).toThrow(new RegExp(`cannot reach ${pkg}/node_modules/koffi: ${pkg}/node_modules \\(mode 0700`));
    expect(fs.readdirSync('/proc/self/fd').length).toBe(before);
  });
});

describe('closePassage', () => {
  test('closes the fds the environment names and forgets them', () => {
    const fd = fs.openSync(os.tmpdir(), 'r');
    process.env.TSLAB_PASSAGE_FDS = `${fd},1,nonsense`;
    closePassage();
    expect(process.env.TSLAB_PASSAGE_FDS).toBeUndefined();
    expect(() => fs.fstatSync(fd)).toThrow(/EBADF/);
    expect(fs.fstatSync(1)).toBeDefined();
  });
});
