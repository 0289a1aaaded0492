// What cannot be derived from lessons/lessons.json, compared with it: the two lesson tables (README.md's and
// sandbox/README.md's), the starters' headers, TODO lines and NotWrittenYet calls, and the reference pieces'
// headers and exports. Each function returns problems as "file:line: what to fix", so a failing test names
// the exact place to edit.
import type { LessonInfo } from '../../src/lab/catalog.js';

export interface TableRow {
  /** 1-based line number in the file. */
  line: number;
  cells: string[];
}

/** The rows (after the header and its --- line) of the Markdown table whose header line is `header`. */
export function tableRows(text: string, header: string): { headerLine: number; rows: TableRow[] } | undefined {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.trim() === header);
  if (at < 0) return undefined;
  const rows: TableRow[] = [];
  for (let i = at + 2; i < lines.length && lines[i].trim().startsWith('|'); i++) {
    rows.push({ line: i + 1, cells: lines[i].trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim()) });
  }
  return { headerLine: at + 1, rows };
}

/** The names in `code` spans of a cell, with any argument list dropped: "`pivotInto(rootfs)`: ..." gives pivotInto. */
function codeNames(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\(.*$/, ''));
}

/**
 * One row per lesson, in order, each `| N | what | the piece's functions |`: the functions as `code`, in the
 * order of lessons.json, or "—" when the lesson has no piece.
 */
export const MAIN_TABLE = '| lesson | kernel feature switched on | the piece you write in `sandbox/steps/` |';

export function mainTableProblems(catalog: LessonInfo[], text: string, file = 'README.md'): string[] {
  const table = tableRows(text, MAIN_TABLE);
  if (!table) return [`${file}: no lesson table (its header line is ${MAIN_TABLE})`];
  const problems: string[] = [];
  catalog.forEach((lesson, i) => {
    const row = table.rows[i];
    const want = lesson.piece ? lesson.piece.functions.map((f) => `\`${f}\``).join(', ') : '—';
    if (!row) {
      const after = table.rows.at(-1)?.line ?? table.headerLine + 1;
      problems.push(`${file}:${after}: no row for lesson ${lesson.number} (${lesson.id}) after this line: | ${lesson.number} | … | ${want} |`);
      return;
    }
    if (row.cells[0] !== String(lesson.number)) problems.push(`${file}:${row.line}: the row of lesson ${lesson.number} (${lesson.id}) starts with "${row.cells[0]}"`);
    const names = row.cells[2] === '—' ? [] : codeNames(row.cells[2] ?? '');
    if (names.join() !== (lesson.piece?.functions ?? []).join()) {
      problems.push(`${file}:${row.line}: lesson ${lesson.number}'s piece is ${want} (lessons.json), the row says ${row.cells[2] ?? 'nothing'}`);
    }
  });
  for (const extra of table.rows.slice(catalog.length)) problems.push(`${file}:${extra.line}: a row for no lesson in lessons.json (${extra.cells[0]})`);
  return problems;
}

/** One row per lesson with a piece, in order: `| N | \`steps/<file>\` | each function, as \`name(...)\` or \`name\` |`. */
export const SANDBOX_TABLE = '| lesson | file | what you write |';

export function sandboxTableProblems(catalog: LessonInfo[], text: string, file = 'sandbox/README.md'): string[] {
  const table = tableRows(text, SANDBOX_TABLE);
  if (!table) return [`${file}: no piece table (its header line is ${SANDBOX_TABLE})`];
  const withPiece = catalog.filter((l) => l.piece);
  const problems: string[] = [];
  withPiece.forEach((lesson, i) => {
    const piece = lesson.piece!;
    const row = table.rows[i];
    if (!row) {
      const after = table.rows.at(-1)?.line ?? table.headerLine + 1;
      problems.push(`${file}:${after}: no row for lesson ${lesson.number} (${lesson.id}) after this line: | ${lesson.number} | \`steps/${piece.file}\` | … |`);
      return;
    }
    if (row.cells[0] !== String(lesson.number)) problems.push(`${file}:${row.line}: the row of lesson ${lesson.number} (${lesson.id}) starts with "${row.cells[0]}"`);
    if (row.cells[1] !== `\`steps/${piece.file}\``) problems.push(`${file}:${row.line}: lesson ${lesson.number}'s piece file is \`steps/${piece.file}\`, the row says ${row.cells[1]}`);
    const names = codeNames(row.cells[2] ?? '');
    const missing = piece.functions.filter((f) => !names.includes(f));
    if (missing.length) problems.push(`${file}:${row.line}: lesson ${lesson.number}'s row does not name ${missing.map((f) => `\`${f}\``).join(', ')}`);
  });
  for (const extra of table.rows.slice(withPiece.length)) problems.push(`${file}:${extra.line}: a row for no piece in lessons.json (${extra.cells[0]})`);
  return problems;
}

/** 1-based line of the first line matching `re`, or 0. */
function lineOf(lines: string[], re: RegExp): number {
  return lines.findIndex((l) => re.test(l)) + 1;
}

/**
 * A starter, sandbox/steps/<file>: its first line is "// LESSON N — <title>", and each function of the piece
 * is exported with a "// TODO(lesson N): ..." line and `throw new NotWrittenYet(N, '<function>', '<file>', ...)`.
 */
export function starterProblems(lesson: LessonInfo, text: string): string[] {
  const piece = lesson.piece!;
  const file = `sandbox/steps/${piece.file}`;
  const lines = text.split('\n');
  const problems: string[] = [];
  const header = `// LESSON ${lesson.number} — ${lesson.title}`;
  if (lines[0] !== header) problems.push(`${file}:1: the header should read "${header}"`);
  for (const fn of piece.functions) {
    const start = lineOf(lines, new RegExp(`^export\\s+(async\\s+)?function\\s+${fn}\\b`));
    if (!start) {
      problems.push(`${file}: no \`export function ${fn}\` (lessons.json lists it for lesson ${lesson.number})`);
      continue;
    }
    const end = lines.findIndex((l, i) => i >= start && l === '}') + 1 || lines.length;
    const body = lines.slice(start - 1, end);
    const todo = body.findIndex((l) => /\/\/ TODO\(lesson \d+\)/.test(l));
    if (todo < 0) problems.push(`${file}:${start}: ${fn} has no "// TODO(lesson ${lesson.number}): ..." line`);
    else if (!body[todo].includes(`// TODO(lesson ${lesson.number}): `)) problems.push(`${file}:${start + todo}: should read "// TODO(lesson ${lesson.number}): ..."`);
    const call = body.findIndex((l) => l.includes('new NotWrittenYet('));
    const want = `new NotWrittenYet(${lesson.number}, '${fn}', '${piece.file}', `;
    if (call < 0) {
      problems.push(`${file}:${start}: ${fn} does not throw NotWrittenYet`);
      continue;
    }
    // The call may be wrapped over several lines.
    const callText = body.slice(call).join(' ').replace(/\s+/g, ' ').replace(/\( /g, '(');
    if (!callText.includes(want)) problems.push(`${file}:${start + call}: should throw ${want}'<hint>')`);
  }
  return problems;
}

/** A reference piece, src/runtime/steps/<file>: its first line starts "// Lesson N: ", and it exports exactly the piece's functions. */
export function referenceProblems(lesson: LessonInfo, text: string): string[] {
  const piece = lesson.piece!;
  const file = `src/runtime/steps/${piece.file}`;
  const lines = text.split('\n');
  const problems: string[] = [];
  if (!lines[0].startsWith(`// Lesson ${lesson.number}: `)) problems.push(`${file}:1: the header should start "// Lesson ${lesson.number}: "`);
  const exported = lines.flatMap((l, i) => {
    const m = /^export\s+(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)/.exec(l);
    return m ? [{ name: m[1]!, line: i + 1 }] : [];
  });
  for (const { name, line } of exported) {
    if (!piece.functions.includes(name)) problems.push(`${file}:${line}: exports ${name}, which lessons.json does not list for lesson ${lesson.number}`);
  }
  for (const fn of piece.functions) {
    if (!exported.some((e) => e.name === fn)) problems.push(`${file}: no \`export function ${fn}\` (lessons.json lists it for lesson ${lesson.number})`);
  }
  return problems;
}

/** file -> the lesson that writes it and its functions: what the lab swaps between src/runtime/steps/ and sandbox/steps/. */
export function pieceContract(catalog: LessonInfo[]): Record<string, { lesson: number; functions: string[] }> {
  return Object.fromEntries(catalog.flatMap((l) => (l.piece ? [[l.piece.file, { lesson: l.number, functions: l.piece.functions }]] : [])));
}
