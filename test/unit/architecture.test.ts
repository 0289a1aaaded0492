// The shape of src/, read from the sources' own import lines (TypeScript's preProcessFile: static, type-only
// and dynamic imports, and re-exports): every import between parts follows one of the intended arrows, the
// lowest parts use no package beyond their own, and no file reaches itself through its imports. The checks
// are plain functions over an edge list, so they are first shown to catch a planted bad arrow and cycle.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../helpers/runtime.js';

/**
 * Who may import whom. cli parses and prints; lab, engine are the programs; runtime, net and image are
 * the pieces; fs (files of untrusted directories, the data dir, the package's own paths) and linux (the
 * syscall layer) sit below every part and know nothing of containers, images or lessons. sandbox/ is the
 * learner's copy of the steps and gets the syscall layer only.
 */
const ALLOWED: Record<string, readonly string[]> = {
  cli: ['lab', 'engine', 'runtime', 'image', 'net', 'fs'],
  lab: ['runtime', 'net', 'fs', 'linux'],
  engine: ['runtime', 'image', 'net', 'fs', 'linux'],
  runtime: ['fs', 'linux'],
  net: ['fs', 'linux'],
  image: ['fs', 'linux'],
  fs: ['linux'],
  linux: [],
  sandbox: ['linux'],
};

/** Packages (besides node:*) the lower parts may use; the parts above them are not listed, so not limited. */
const PACKAGES: Record<string, readonly string[]> = {
  runtime: [],
  net: [],
  image: ['tar'],
  fs: [],
  linux: ['koffi'],
  sandbox: [],
};

interface Edge {
  from: string;
  to: string;
}

/** The part a file belongs to: src/<part>/..., or sandbox; undefined for anything else. */
function partOf(file: string): string | undefined {
  const rel = path.relative(REPO_ROOT, file).split(path.sep);
  if (rel[0] === 'sandbox') return 'sandbox';
  if (rel[0] === 'src' && rel.length > 2) return rel[1];
  return undefined;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Every import of every source file: files as absolute paths, packages as `package:<name>`. */
function importEdges(files: string[]): Edge[] {
  return files.flatMap((from) =>
    ts.preProcessFile(fs.readFileSync(from, 'utf8'), true, true).importedFiles.map(({ fileName: spec }) => {
      if (spec.startsWith('.')) return { from, to: path.resolve(path.dirname(from), spec).replace(/\.js$/, '.ts') };
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      return { from, to: `package:${name}` };
    }),
  );
}

/** Imports that break the table: "src/net/x.ts -> src/runtime/y.ts (net -> runtime)". */
function arrowViolations(edges: Edge[]): string[] {
  const found: string[] = [];
  const show = (file: string) => path.relative(REPO_ROOT, file);
  for (const { from, to } of edges) {
    const source = partOf(from);
    if (source === undefined) {
      found.push(`${show(from)} belongs to no part`);
      continue;
    }
    if (to.startsWith('package:')) {
      const name = to.slice('package:'.length);
      if (name === 'node:' || name.startsWith('node:')) continue;
      const allowed = PACKAGES[source];
      if (allowed && !allowed.includes(name)) found.push(`${show(from)} -> ${name} (${source} may use ${allowed.join(', ') || 'no package'})`);
      continue;
    }
    const target = partOf(to);
    if (target === source) continue;
    if (target === undefined || !ALLOWED[source]?.includes(target)) found.push(`${show(from)} -> ${show(to)} (${source} -> ${target ?? 'no part'})`);
  }
  return [...new Set(found)];
}

/** The import cycles between files (strongly connected components of more than one file, or a self-import). */
function importCycles(edges: Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) if (!to.startsWith('package:')) next.set(from, [...(next.get(from) ?? []), to]);
  // Tarjan's algorithm.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(path.relative(REPO_ROOT, w));
    } while (w !== v);
    if (component.length > 1 || next.get(v)?.includes(v)) cycles.push(component.sort());
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

const files = [...sourceFiles(path.join(REPO_ROOT, 'src')), ...sourceFiles(path.join(REPO_ROOT, 'sandbox'))];
const edges = importEdges(files);

describe('the checks catch what they look for', () => {
  const at = (rel: string) => path.join(REPO_ROOT, rel);
  const planted: Edge[] = [
    { from: at('src/net/a.ts'), to: at('src/runtime/b.ts') },
    { from: at('src/image/c.ts'), to: 'package:koffi' },
    { from: at('src/image/c.ts'), to: 'package:node:fs' },
    { from: at('src/helper.ts'), to: at('src/linux/d.ts') },
    { from: at('src/linux/d.ts'), to: at('src/linux/e.ts') },
    { from: at('src/linux/e.ts'), to: at('src/linux/f.ts') },
    { from: at('src/linux/f.ts'), to: at('src/linux/d.ts') },
    { from: at('src/fs/g.ts'), to: at('src/fs/g.ts') },
  ];

  test('a forbidden arrow, a package a low part may not use, a file outside every part', () => {
    expect(arrowViolations(planted)).toEqual([
      'src/net/a.ts -> src/runtime/b.ts (net -> runtime)',
      'src/image/c.ts -> koffi (image may use tar)',
      'src/helper.ts belongs to no part',
    ]);
  });

  test('a cycle of three files and a file that imports itself', () => {
    expect(importCycles(planted)).toEqual([['src/linux/d.ts', 'src/linux/e.ts', 'src/linux/f.ts'], ['src/fs/g.ts']]);
  });
});

describe('src/ and sandbox/', () => {
  test('the sources were read: every part has files, every file is in a part, every relative import names a file that exists', () => {
    const parts = new Set(files.map(partOf));
    for (const part of Object.keys(ALLOWED)) expect(parts.has(part), part).toBe(true);
    // A file at src/'s root, or in a folder the table does not know, belongs to no part.
    expect(files.filter((f) => !Object.hasOwn(ALLOWED, partOf(f) ?? '')).map((f) => path.relative(REPO_ROOT, f))).toEqual([]);
    const missing = edges.filter((e) => !e.to.startsWith('package:') && !fs.existsSync(e.to)).map((e) => `${e.from} -> ${e.to}`);
    expect(missing).toEqual([]);
    expect(edges.length).toBeGreaterThan(500);
  });

  test('every import between parts follows an intended arrow; the lower parts use only their packages', () => {
    expect(arrowViolations(edges)).toEqual([]);
  });

  test('no file reaches itself through its imports', () => {
    expect(importCycles(edges)).toEqual([]);
  });
});
