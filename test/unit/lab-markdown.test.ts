// The lesson format (src/lab/markdown.ts): front matter, prose, and the four kinds of runnable cell.
import { describe, expect, test } from 'vitest';
import { LessonFormatError, cellsOf, parseLesson, type Segment } from '../../src/lab/markdown.js';

const FENCE = '```';

function lesson(body: string, front = 'id: 09-demo\ntitle: A demo: with a colon\nminutes: 5'): string {
  return `---\n${front}\n---\n${body}`;
}

describe('front matter', () => {
  test('key: value lines, the value keeps its own colons; blank lines are skipped', () => {
    const doc = parseLesson(lesson('text\n', 'id: 09-demo\n\ntitle: A demo: with a colon\nminutes:  5 '), 'x.md');
    expect(doc.meta).toEqual({ id: '09-demo', title: 'A demo: with a colon', minutes: '5' });
  });

  test('a file without front matter is refused, naming the file', () => {
    expect(() => parseLesson('# no front matter\n', 'nofront.md')).toThrow(LessonFormatError);
    expect(() => parseLesson('# no front matter\n', 'nofront.md')).toThrow(/nofront\.md.*front matter/);
  });

  test('a front matter line without a colon is refused, quoting the line', () => {
    expect(() => parseLesson(lesson('x\n', 'id: a\njust words'), 'bad.md')).toThrow(/bad\.md: front matter line "just words"/);
  });

  test('front matter must be at the very start', () => {
    expect(() => parseLesson(`\n${lesson('x\n')}`, 'late.md')).toThrow(LessonFormatError);
  });
});

describe('cells', () => {
  const source = lesson(
    [
      '# Title',
      '',
      'Some prose.',
      '',
      `${FENCE}sh host`,
      'echo one',
      'echo two',
      FENCE,
      '',
      'Between.',
      '',
      `${FENCE}sh container`,
      'hostname',
      FENCE,
      '',
      `${FENCE}tslab enable chroot extra`,
      'Switch it on.',
      FENCE,
      '',
      `${FENCE}tslab check`,
      'Check it.',
      FENCE,
      '',
      'The end.',
      '',
    ].join('\n'),
  );

  test('each kind of cell, with its args and code (no trailing newline), in document order', () => {
    const doc = parseLesson(source, 'cells.md');
    expect(cellsOf(doc)).toEqual([
      { kind: 'host', args: [], code: 'echo one\necho two' },
      { kind: 'container', args: [], code: 'hostname' },
      { kind: 'enable', args: ['chroot', 'extra'], code: 'Switch it on.' },
      { kind: 'check', args: [], code: 'Check it.' },
    ]);
  });

  test('prose between cells becomes trimmed prose segments, never empty ones', () => {
    const doc = parseLesson(source, 'cells.md');
    const shape = doc.segments.map((s: Segment) => (s.type === 'prose' ? `prose:${s.text}` : `cell:${s.cell.kind}`));
    expect(shape).toEqual([
      'prose:# Title\n\nSome prose.',
      'cell:host',
      'prose:Between.',
      'cell:container',
      'cell:enable',
      'cell:check',
      'prose:The end.',
    ]);
  });

  test('other fenced blocks (plain sh, ts, no info string) stay in the prose, fences included', () => {
    const body = [
      'Before.',
      `${FENCE}sh`,
      'not a cell',
      FENCE,
      `${FENCE}ts`,
      'const x = 1;',
      FENCE,
      FENCE,
      'plain block',
      FENCE,
      'After.',
      `${FENCE}sh host`,
      'true',
      FENCE,
      '',
    ].join('\n');
    const doc = parseLesson(lesson(body), 'prose.md');
    expect(cellsOf(doc)).toEqual([{ kind: 'host', args: [], code: 'true' }]);
    expect(doc.segments).toHaveLength(2);
    const prose = doc.segments[0];
    expect(prose.type).toBe('prose');
    if (prose.type === 'prose') {
      expect(prose.text).toContain(`${FENCE}sh\nnot a cell\n${FENCE}`);
      expect(prose.text).toContain('const x = 1;');
      expect(prose.text).toContain('plain block');
      expect(prose.text.startsWith('Before.')).toBe(true);
      expect(prose.text.endsWith('After.')).toBe(true);
    }
  });

  test('extra spaces in the info string and after the closing fence are accepted', () => {
    const doc = parseLesson(lesson(`${FENCE}  sh   container  \nls /\n${FENCE}   \n`), 'spaces.md');
    expect(cellsOf(doc)).toEqual([{ kind: 'container', args: [], code: 'ls /' }]);
  });

  test('an empty cell has empty code', () => {
    const doc = parseLesson(lesson(`${FENCE}tslab check\n${FENCE}\n`), 'empty.md');
    expect(cellsOf(doc)).toEqual([{ kind: 'check', args: [], code: '' }]);
  });

  test('a cell keeps blank lines and indentation inside it', () => {
    const doc = parseLesson(lesson(`${FENCE}sh host\nfor i in 1 2; do\n  echo $i\n\ndone\n${FENCE}\n`), 'indent.md');
    expect(cellsOf(doc)[0].code).toBe('for i in 1 2; do\n  echo $i\n\ndone');
  });

  test('an unknown "tslab" cell is an error naming the file and the cell', () => {
    expect(() => parseLesson(lesson(`${FENCE}tslab run\nx\n${FENCE}\n`), 'unknown.md')).toThrow(
      /unknown\.md: unknown cell "tslab run"/,
    );
    expect(() => parseLesson(lesson(`${FENCE}tslab\nx\n${FENCE}\n`), 'bare.md')).toThrow(LessonFormatError);
  });

  test('a lesson with no cells is one prose segment; an empty body has no segments', () => {
    expect(parseLesson(lesson('Only words.\n'), 'a.md').segments).toEqual([{ type: 'prose', text: 'Only words.' }]);
    expect(parseLesson(lesson(''), 'b.md').segments).toEqual([]);
  });
});
