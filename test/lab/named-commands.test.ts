// Every `tslab COMMAND` the learner is told to type must exist: in the lessons (lessons/*.md), the hints of
// lessons.json and the messages of the CLI and the lab (string literals of src/cli and src/lab). A lesson once
// said "run the lesson's `tslab enable` cell", a command that never was. A command is named where the text
// shows it as one: in a code span or code block, at the start of a message, after ": " or after "see ".
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';
import { COMMANDS } from '../../src/cli/tslab.js';
import { REPO_ROOT, catalog } from './lab-env.js';

interface Named {
  where: string;
  command: string;
  context: string;
}

/** `tslab WORD` where the text presents it as a command line; not a fence's info string (```tslab enable). */
function namedIn(text: string, where: string, code: boolean): Named[] {
  const found: Named[] = [];
  for (const m of text.matchAll(/(?<![\w:/.-])tslab ([a-z][a-z-]*)/g)) {
    const before = text.slice(0, m.index);
    if (before.endsWith('```')) continue;
    const shownAsCommand = code || /(^|`|: |\bsee |\bsudo )$/.test(before);
    if (shownAsCommand) found.push({ where, command: m[1], context: text.slice(Math.max(0, m.index - 40), m.index + 40).replace(/\n/g, ' ') });
  }
  return found;
}

/** Code spans and fenced code of Markdown, each as code; fence info strings are left out. */
function markdownCode(source: string): string[] {
  const pieces: string[] = [];
  const withoutFences = source.replace(/^```[^\n]*\n([\s\S]*?)^```[ \t]*$/gm, (_all, body: string) => {
    pieces.push(body);
    return '';
  });
  for (const m of withoutFences.matchAll(/(`+)([^`][\s\S]*?)\1/g)) pieces.push(m[2]);
  return pieces;
}

/** Text of every string literal and template part of a TypeScript file (comments are not messages). */
function stringLiterals(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const texts: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) texts.push(node.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return texts;
}

function filesUnder(dir: string, suffix: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(suffix)).map((f) => path.join(dir, f));
}

const lessonFiles = fs.readdirSync(path.join(REPO_ROOT, 'lessons')).filter((f) => f.endsWith('.md')).map((f) => path.join(REPO_ROOT, 'lessons', f));
const sourceFiles = [...filesUnder(path.join(REPO_ROOT, 'src', 'cli'), '.ts'), ...filesUnder(path.join(REPO_ROOT, 'src', 'lab'), '.ts')];

const named: Named[] = [
  ...lessonFiles.flatMap((file) => markdownCode(fs.readFileSync(file, 'utf8')).flatMap((code) => namedIn(code, path.relative(REPO_ROOT, file), true))),
  ...catalog.flatMap((lesson) =>
    lesson.hints.flatMap((hint, i) => [
      ...markdownCode(hint).flatMap((code) => namedIn(code, `lessons.json ${lesson.id} hint ${i + 1}`, true)),
      ...namedIn(hint, `lessons.json ${lesson.id} hint ${i + 1}`, false),
    ]),
  ),
  ...sourceFiles.flatMap((file) =>
    stringLiterals(file).flatMap((text) => [
      ...markdownCode(text).flatMap((code) => namedIn(code, path.relative(REPO_ROOT, file), true)),
      ...namedIn(text, path.relative(REPO_ROOT, file), false),
    ]),
  ),
];

describe('commands named to the learner', () => {
  test('the scan finds the commands it should (lessons, hints and messages all name some)', () => {
    const where = new Set(named.map((n) => n.where.split(' ')[0]));
    expect(where).toContain('lessons.json');
    expect([...where].some((w) => w.startsWith('lessons/'))).toBe(true);
    expect([...where].some((w) => w.startsWith('src/cli/'))).toBe(true);
    expect(named.map((n) => n.command)).toEqual(expect.arrayContaining(['start', 'solution', 'check', 'reset']));
    // The rule itself: a fence's info string is a cell, prose is not a command, a code span is.
    expect(namedIn('```tslab enable', 'x', false)).toEqual([]);
    expect(namedIn('tslab does not need it', 'x', false).length).toBe(1); // at the start of a message
    expect(namedIn('(tslab does not need it)', 'x', false)).toEqual([]);
    expect(namedIn("run the lesson's `tslab enable` cell", 'x', false).map((n) => n.command)).toEqual(['enable']);
  });

  test('every one of them is a command of the tslab parser', () => {
    const unknown = named.filter((n) => !COMMANDS.includes(n.command)).map((n) => `${n.where}: "tslab ${n.command}" in …${n.context}…`);
    expect(unknown, `known commands: ${COMMANDS.join(', ')}`).toEqual([]);
  });
});
