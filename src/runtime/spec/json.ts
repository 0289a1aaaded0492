// A JSON reader that remembers where each value starts, keeps the exact text of numbers, and fails with a
// line and column.
// Hand code rather than JSON.parse: errors in a hostile config.json must point at a line and column, and
// reading stays linear in the size of the input (no backtracking, strings copied in runs).

import { SpecError } from './spec-error.js';

export type JsonNode =
  | { t: 'object'; at: number; entries: { key: string; value: JsonNode }[] }
  | { t: 'array'; at: number; items: JsonNode[] }
  | { t: 'string'; at: number; value: string }
  | { t: 'number'; at: number; raw: string }
  | { t: 'bool'; at: number; value: boolean }
  | { t: 'null'; at: number };

/** A config.json's text and name, to turn an offset into `file:line:column:` in a SpecError. */
export class Located {
  constructor(
    readonly text: string,
    readonly file: string,
  ) {}

  lineColumn(offset: number): { line: number; column: number } {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < offset && i < this.text.length; i++) {
      if (this.text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    return { line, column: offset - lineStart + 1 };
  }

  /** A SpecError whose message starts with `file:line:column:`. */
  error(offset: number | undefined, field: string, sentence: string): SpecError {
    if (offset === undefined) return new SpecError(`${this.file}: ${sentence}`, { field, file: this.file });
    const { line, column } = this.lineColumn(offset);
    return new SpecError(`${this.file}:${line}:${column}: ${sentence}`, { field, file: this.file, line, column });
  }
}

function describeChar(ch: string | undefined): string {
  if (ch === undefined) return 'the end of the file';
  if (ch === '\n') return 'a line break';
  if (ch === '\t') return 'a tab';
  if (ch === ' ') return 'a space';
  const code = ch.charCodeAt(0);
  if (code < 0x20) return `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${ch}'`;
}

/**
 * How deeply objects and lists may nest. The reader (and the conversion after it) recurse once per level:
 * a hostile file of a million '[' would otherwise end in a stack overflow instead of a sentence. Go's
 * reader, which runc uses, stops at 10000; this stays well inside Node's default stack.
 */
const MAX_DEPTH = 1000;

/** The first JSON value of `src`'s text; throws SpecError with a position. */
export function parseJson(src: Located): JsonNode {
  const text = src.text;
  let i = 0;

  const fail = (at: number, expected: string, hint = ''): never => {
    const found = describeChar(text[at]);
    const extra =
      hint ||
      (text[at] === '/' ? ' (JSON does not allow comments)' : '') ||
      (text[at] === "'" ? ' (JSON strings and field names need "double quotes")' : '') ||
      (at >= text.length ? ' (the file ends too early: is a closing } or ] missing?)' : '');
    throw src.error(at, '', `this is not valid JSON: expected ${expected} but found ${found}${extra}`);
  };

  const skipSpace = (): void => {
    while (i < text.length) {
      const c = text[i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
      else break;
    }
  };

  let depth = 0;
  const nested = (at: number, read: () => JsonNode): JsonNode => {
    if (++depth > MAX_DEPTH) {
      throw src.error(at, '', `objects and lists are nested more than ${MAX_DEPTH} levels deep here; no config.json needs that many (runc's default nests 4)`);
    }
    const node = read();
    depth--;
    return node;
  };

  const value = (): JsonNode => {
    skipSpace();
    const at = i;
    const c = text[i];
    if (c === '{') return nested(at, object);
    if (c === '[') return nested(at, array);
    if (c === '"') return { t: 'string', at, value: string() };
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    for (const [word, node] of [
      ['true', { t: 'bool', at, value: true }],
      ['false', { t: 'bool', at, value: false }],
      ['null', { t: 'null', at }],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return node;
      }
    }
    return fail(at, 'a value (a "string", a number, true, false, null, { or [)');
  };

  const object = (): JsonNode => {
    const at = i;
    i++; // {
    const entries: { key: string; value: JsonNode }[] = [];
    skipSpace();
    if (text[i] === '}') {
      i++;
      return { t: 'object', at, entries };
    }
    for (;;) {
      skipSpace();
      if (text[i] !== '"') {
        const hint = text[i] === '}' && entries.length > 0 ? ' (JSON does not allow a comma after the last field)' : '';
        fail(i, 'a field name in "double quotes"', hint);
      }
      const key = string();
      skipSpace();
      if (text[i] !== ':') fail(i, `':' after the field name "${key}"`);
      i++;
      entries.push({ key, value: value() });
      skipSpace();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return { t: 'object', at, entries };
      }
      fail(i, "',' or '}' after a field's value", text[i] === '"' ? ' (is a comma missing?)' : '');
    }
  };

  const array = (): JsonNode => {
    const at = i;
    i++; // [
    const items: JsonNode[] = [];
    skipSpace();
    if (text[i] === ']') {
      i++;
      return { t: 'array', at, items };
    }
    for (;;) {
      skipSpace();
      if (text[i] === ']' && items.length > 0) fail(i, 'a value', ' (JSON does not allow a comma after the last item)');
      items.push(value());
      skipSpace();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return { t: 'array', at, items };
      }
      fail(i, "',' or ']' after a list item", text[i] === '"' ? ' (is a comma missing?)' : '');
    }
  };

  const hex4 = (at: number): number => {
    const h = text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) fail(at, 'four hex digits after \\u');
    return parseInt(h, 16);
  };

  // The longest run of characters a string holds as they are: copied in one slice, so a 50 MB string
  // costs one scan rather than 50 million one-character concatenations.
  const plainRun = /[^"\\\u0000-\u001f]*/y;

  const string = (): string => {
    i++; // opening quote
    let out = '';
    for (;;) {
      plainRun.lastIndex = i;
      plainRun.test(text);
      if (plainRun.lastIndex > i) {
        out += text.slice(i, plainRun.lastIndex);
        i = plainRun.lastIndex;
      }
      const c = text[i];
      if (c === undefined) fail(i, 'a closing "');
      if (c === '"') {
        i++;
        return out;
      }
      if (c === '\\') {
        const e = text[i + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) {
          out += simple[e];
          i += 2;
          continue;
        }
        if (e === 'u') {
          let code = hex4(i + 2);
          i += 6;
          if (code >= 0xd800 && code <= 0xdbff && text[i] === '\\' && text[i + 1] === 'u') {
            const low = hex4(i + 2);
            if (low >= 0xdc00 && low <= 0xdfff) {
              out += String.fromCharCode(code, low);
              i += 6;
              continue;
            }
          }
          // Like Go, a surrogate that is not part of a pair becomes U+FFFD.
          if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
          out += String.fromCharCode(code);
          continue;
        }
        fail(i + 1, 'an escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX) after a backslash');
      }
      if (c.charCodeAt(0) < 0x20) fail(i, 'a closing " on the same line', ' (write a line break inside a string as \\n)');
      out += c;
      i++;
    }
  };

  const number = (): JsonNode => {
    const at = i;
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '-') return fail(at, 'a number');
    i += m[0].length;
    return { t: 'number', at, raw: m[0] };
  };

  if (text.charCodeAt(0) === 0xfeff) {
    throw src.error(0, '', 'the file starts with a byte order mark (BOM), which JSON for runc must not have: save it as plain UTF-8');
  }
  skipSpace();
  if (i >= text.length) throw src.error(undefined, '', 'the file is empty: it should hold a JSON object like the one `tslab-runtime spec` writes');
  // Like Go's json.Decoder (which runc uses), read the first value and ignore whatever follows it.
  return value();
}
