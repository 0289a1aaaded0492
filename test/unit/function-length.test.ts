// No function in src/ is longer than MAX_LINES unless the comment right above it says why ("// Long because:
// ..."). Functions are found with the TypeScript parser (declarations, methods, constructors, accessors, function
// expressions and arrows, nested ones counted on their own), so the check is first shown to catch a planted one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../helpers/runtime.js';

const MAX_LINES = 80;
const REASON = 'Long because:';

/** The comment lines directly above `line` (0-based), nearest first, up to the first line that is not a comment. */
function commentAbove(lines: string[], line: number): string[] {
  const found: string[] = [];
  for (let i = line - 1; i >= 0; i--) {
    const text = lines[i].trim();
    if (!/^(\/\/|\/\*|\*)/.test(text)) break;
    found.push(text);
  }
  return found;
}

/** "file:line name (N lines)" for each function over MAX_LINES lines without a reason above it. */
export function longFunctions(fileName: string, source: string): string[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const lines = source.split('\n');
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const length = end - start + 1;
      if (length > MAX_LINES && !commentAbove(lines, start).some((l) => l.includes(REASON))) {
        found.push(`${fileName}:${start + 1} ${functionName(node)} (${length} lines)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

function functionName(node: ts.SignatureDeclaration): string {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return parent.name.getText();
  return '(anonymous)';
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

const body = (n: number) => Array.from({ length: n - 2 }, (_, i) => `  const v${i} = ${i};`).join('\n');

describe('function length', () => {
  test('a planted long function is found; a reason above it, or a shorter one, is accepted', () => {
    const long = `function planted() {\n${body(MAX_LINES + 1)}\n}\n`;
    expect(longFunctions('x.ts', long)).toEqual([`x.ts:1 planted (${MAX_LINES + 1} lines)`]);
    expect(longFunctions('x.ts', `// Long because: one table.\n${long}`)).toEqual([]);
    expect(longFunctions('x.ts', `/**\n * Docs.\n * Long because: one table.\n */\n${long}`)).toEqual([]);
    expect(longFunctions('x.ts', `// Long because: one table.\n\n${long}`)).toHaveLength(1);
    expect(longFunctions('x.ts', `function short() {\n${body(MAX_LINES)}\n}\n`)).toEqual([]);
    const arrow = `export const run = async () => {\n${body(MAX_LINES + 5)}\n};\n`;
    expect(longFunctions('x.ts', arrow)).toEqual([`x.ts:1 run (${MAX_LINES + 5} lines)`]);
    const method = `class C {\n  m() {\n${body(MAX_LINES + 2)}\n  }\n}\n`;
    expect(longFunctions('x.ts', method)).toEqual([`x.ts:2 m (${MAX_LINES + 2} lines)`]);
  });

  test(`no function in src/ is over ${MAX_LINES} lines without a "${REASON}" comment`, () => {
    const src = path.join(REPO_ROOT, 'src');
    const found = sourceFiles(src).flatMap((file) => longFunctions(path.relative(REPO_ROOT, file), fs.readFileSync(file, 'utf8')));
    expect(found).toEqual([]);
  });
});
