// Whether a mapped uid can reach a program: search permission on every directory above it, by owner, group
// or others, as the kernel checks it for a process in a user namespace.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { blockingDirectory, unreachableSentence } from '../../src/fs/reachable.js';

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
    expect(unreachableSentence(['/bin/sh', program], 100000, 100000)).toMatch(new RegExp(`uid 100000 .* cannot reach ${program}: ${outer} \\(mode 0700`));
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
