// A lesson file: front matter, then Markdown prose with runnable cells. A cell is a fenced code block whose
// info string names where it runs:
//   ```sh host         a shell command on the host
//   ```sh container    a shell command inside the lesson container
//   ```tslab enable    (re)start the lesson container with this lesson's feature, showing the kernel diff
//   ```tslab check     run the lesson's checks
// Any other fenced block is prose.

export type CellKind = 'host' | 'container' | 'enable' | 'check';

export interface Cell {
  kind: CellKind;
  /** Words after the kind in the info string, e.g. `chroot` in "tslab enable chroot". */
  args: string[];
  code: string;
}

export type Segment = { type: 'prose'; text: string } | { type: 'cell'; cell: Cell };

export interface LessonDocument {
  meta: Record<string, string>;
  segments: Segment[];
}

export class LessonFormatError extends Error {}

function parseFrontMatter(source: string, file: string): { meta: Record<string, string>; body: string } {
  const match = /^---\n([\s\S]*?)\n---\n/.exec(source);
  if (!match) throw new LessonFormatError(`${file}: a lesson starts with front matter between two "---" lines`);
  const meta: Record<string, string> = {};
  for (const line of match[1].split('\n')) {
    if (!line.trim()) continue;
    const colon = line.indexOf(':');
    if (colon < 0) throw new LessonFormatError(`${file}: front matter line "${line}" is not "key: value"`);
    meta[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return { meta, body: source.slice(match[0].length) };
}

function cellFromInfo(info: string, code: string, file: string): Cell | undefined {
  const [lang, kind, ...args] = info.trim().split(/\s+/);
  if (lang === 'sh' && (kind === 'host' || kind === 'container')) return { kind, args, code };
  if (lang === 'tslab') {
    if (kind === 'enable' || kind === 'check') return { kind, args, code };
    throw new LessonFormatError(`${file}: unknown cell "tslab ${kind ?? ''}" (expected "tslab enable" or "tslab check")`);
  }
  return undefined;
}

export function parseLesson(source: string, file: string): LessonDocument {
  const { meta, body } = parseFrontMatter(source, file);
  const segments: Segment[] = [];
  const fence = /^```([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm;
  let last = 0;
  let prose = '';
  for (let match = fence.exec(body); match; match = fence.exec(body)) {
    const cell = cellFromInfo(match[1], match[2].replace(/\n$/, ''), file);
    prose += body.slice(last, cell ? match.index : fence.lastIndex);
    last = fence.lastIndex;
    if (!cell) continue;
    if (prose.trim()) segments.push({ type: 'prose', text: prose.trim() });
    prose = '';
    segments.push({ type: 'cell', cell });
  }
  prose += body.slice(last);
  if (prose.trim()) segments.push({ type: 'prose', text: prose.trim() });
  return { meta, segments };
}

export function cellsOf(doc: LessonDocument): Cell[] {
  return doc.segments.flatMap((s) => (s.type === 'cell' ? [s.cell] : []));
}
