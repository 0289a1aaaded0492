// sandbox/REFERENCE.md is where a learner looks up the functions of `../syscalls.js` (read, pollReadable,
// SyscallError.code...): every export of sandbox/syscalls.ts must be listed there, nothing listed may be
// gone, and the lessons that ask for a piece and sandbox/README.md must point to it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT, catalog } from './lab-env.js';

const REFERENCE = fs.readFileSync(path.join(REPO_ROOT, 'sandbox', 'REFERENCE.md'), 'utf8');

/** Every name sandbox/syscalls.ts exports, types included, as the compiler sees them. */
function exportedNames(): string[] {
  const file = path.join(REPO_ROOT, 'sandbox', 'syscalls.ts');
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(file)!);
  return checker.getExportsOfModule(module!).map((s) => s.name);
}

/** Names the reference shows in code spans. */
const listed = new Set([...REFERENCE.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)[(<`.]/g)].map((m) => m[1]));

describe('sandbox/REFERENCE.md', () => {
  const names = exportedNames();

  test('the export list is the syscall layer (it holds the helpers lessons name)', () => {
    expect(names.length).toBeGreaterThan(50);
    expect(names).toEqual(expect.arrayContaining(['read', 'pollReadable', 'SyscallError', 'open', 'close', 'mount', 'sethostname']));
  });

  test('lists every export of sandbox/syscalls.ts', () => {
    expect(names.filter((n) => !listed.has(n))).toEqual([]);
  });

  test('every function it documents (a "- `name(...)`" line) is still exported', () => {
    const documented = [...REFERENCE.matchAll(/^- `([A-Za-z_][A-Za-z0-9_]*)[(<]/gm)].map((m) => m[1]);
    expect(documented.length).toBeGreaterThan(50);
    expect(documented.filter((n) => !names.includes(n))).toEqual([]);
  });

  test('the per-lesson table names only exports (and SyscallError.code, a field)', () => {
    const table = REFERENCE.slice(REFERENCE.indexOf('| lesson |'), REFERENCE.indexOf('\n\n', REFERENCE.indexOf('| lesson |')));
    const used = [...table.matchAll(/`([A-Za-z_][A-Za-z0-9_.]*)`/g)].map((m) => m[1].split('.')[0]);
    expect(used.length).toBeGreaterThan(10);
    expect(used.filter((n) => !names.includes(n))).toEqual([]);
  });

  test('sandbox/README.md and every lesson whose piece imports ../syscalls.js point to it', () => {
    expect(fs.readFileSync(path.join(REPO_ROOT, 'sandbox', 'README.md'), 'utf8')).toContain('REFERENCE.md');
    const lessons = catalog.filter((l) => {
      if (!l.piece) return false;
      const starter = path.join(REPO_ROOT, 'sandbox', 'steps', l.piece.file);
      return fs.existsSync(starter) && fs.readFileSync(starter, 'utf8').includes("'../syscalls.js'");
    });
    expect(lessons.length).toBeGreaterThan(0);
    const missing = lessons.filter((l) => !fs.readFileSync(path.join(REPO_ROOT, 'lessons', l.file), 'utf8').includes('sandbox/REFERENCE.md'));
    expect(missing.map((l) => l.file)).toEqual([]);
  });
});
