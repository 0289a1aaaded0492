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
  return new JsonReader(src).document();
}

// The longest run of characters a string holds as they are: copied in one slice, so a 50 MB string
// costs one scan rather than 50 million one-character concatenations.
const PLAIN_RUN = /[^"\\\u0000-\u001f]*/y;

/** A recursive-descent reader over one text; `i` is the cursor all its parts move. */
class JsonReader {
  private readonly text: string;
  private i = 0;
  private depth = 0;

  constructor(private readonly src: Located) {
    this.text = src.text;
  }

  document(): JsonNode {
    if (this.text.charCodeAt(0) === 0xfeff) {
      throw this.src.error(0, '', 'the file starts with a byte order mark (BOM), which JSON for runc must not have: save it as plain UTF-8');
    }
    this.skipSpace();
    if (this.i >= this.text.length) throw this.src.error(undefined, '', 'the file is empty: it should hold a JSON object like the one `tslab-runtime spec` writes');
    // Like Go's json.Decoder (which runc uses), read the first value and ignore whatever follows it.
    return this.value();
  }

  private fail(at: number, expected: string, hint = ''): never {
    const found = describeChar(this.text[at]);
    const extra =
      hint ||
      (this.text[at] === '/' ? ' (JSON does not allow comments)' : '') ||
      (this.text[at] === "'" ? ' (JSON strings and field names need "double quotes")' : '') ||
      (at >= this.text.length ? ' (the file ends too early: is a closing } or ] missing?)' : '');
    throw this.src.error(at, '', `this is not valid JSON: expected ${expected} but found ${found}${extra}`);
  }

  private skipSpace(): void {
    while (this.i < this.text.length) {
      const c = this.text[this.i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.i++;
      else break;
    }
  }

  private nested(at: number, read: () => JsonNode): JsonNode {
    if (++this.depth > MAX_DEPTH) {
      throw this.src.error(at, '', `objects and lists are nested more than ${MAX_DEPTH} levels deep here; no config.json needs that many (runc's default nests 4)`);
    }
    const node = read();
    this.depth--;
    return node;
  }

  private value(): JsonNode {
    this.skipSpace();
    const at = this.i;
    const c = this.text[this.i];
    if (c === '{') return this.nested(at, () => this.object());
    if (c === '[') return this.nested(at, () => this.array());
    if (c === '"') return { t: 'string', at, value: this.string() };
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [word, node] of [
      ['true', { t: 'bool', at, value: true }],
      ['false', { t: 'bool', at, value: false }],
      ['null', { t: 'null', at }],
    ] as const) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length;
        return node;
      }
    }
    return this.fail(at, 'a value (a "string", a number, true, false, null, { or [)');
  }

  private object(): JsonNode {
    const at = this.i;
    this.i++; // {
    const entries: { key: string; value: JsonNode }[] = [];
    this.skipSpace();
    if (this.text[this.i] === '}') {
      this.i++;
      return { t: 'object', at, entries };
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.i] !== '"') {
        const hint = this.text[this.i] === '}' && entries.length > 0 ? ' (JSON does not allow a comma after the last field)' : '';
        this.fail(this.i, 'a field name in "double quotes"', hint);
      }
      const key = this.string();
      this.skipSpace();
      if (this.text[this.i] !== ':') this.fail(this.i, `':' after the field name "${key}"`);
      this.i++;
      entries.push({ key, value: this.value() });
      this.skipSpace();
      if (this.text[this.i] === ',') {
        this.i++;
        continue;
      }
      if (this.text[this.i] === '}') {
        this.i++;
        return { t: 'object', at, entries };
      }
      this.fail(this.i, "',' or '}' after a field's value", this.text[this.i] === '"' ? ' (is a comma missing?)' : '');
    }
  }

  private array(): JsonNode {
    const at = this.i;
    this.i++; // [
    const items: JsonNode[] = [];
    this.skipSpace();
    if (this.text[this.i] === ']') {
      this.i++;
      return { t: 'array', at, items };
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.i] === ']' && items.length > 0) this.fail(this.i, 'a value', ' (JSON does not allow a comma after the last item)');
      items.push(this.value());
      this.skipSpace();
      if (this.text[this.i] === ',') {
        this.i++;
        continue;
      }
      if (this.text[this.i] === ']') {
        this.i++;
        return { t: 'array', at, items };
      }
      this.fail(this.i, "',' or ']' after a list item", this.text[this.i] === '"' ? ' (is a comma missing?)' : '');
    }
  }

  private hex4(at: number): number {
    const h = this.text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail(at, 'four hex digits after \\u');
    return parseInt(h, 16);
  }

  private string(): string {
    this.i++; // opening quote
    let out = '';
    for (;;) {
      PLAIN_RUN.lastIndex = this.i;
      PLAIN_RUN.test(this.text);
      if (PLAIN_RUN.lastIndex > this.i) {
        out += this.text.slice(this.i, PLAIN_RUN.lastIndex);
        this.i = PLAIN_RUN.lastIndex;
      }
      const c = this.text[this.i];
      if (c === undefined) this.fail(this.i, 'a closing "');
      if (c === '"') {
        this.i++;
        return out;
      }
      if (c === '\\') {
        const e = this.text[this.i + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) {
          out += simple[e];
          this.i += 2;
          continue;
        }
        if (e === 'u') {
          let code = this.hex4(this.i + 2);
          this.i += 6;
          if (code >= 0xd800 && code <= 0xdbff && this.text[this.i] === '\\' && this.text[this.i + 1] === 'u') {
            const low = this.hex4(this.i + 2);
            if (low >= 0xdc00 && low <= 0xdfff) {
              out += String.fromCharCode(code, low);
              this.i += 6;
              continue;
            }
          }
          // Like Go, a surrogate that is not part of a pair becomes U+FFFD.
          if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;
          out += String.fromCharCode(code);
          continue;
        }
        this.fail(this.i + 1, 'an escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX) after a backslash');
      }
      if (c.charCodeAt(0) < 0x20) this.fail(this.i, 'a closing " on the same line', ' (write a line break inside a string as \\n)');
      out += c;
      this.i++;
    }
  }

  private number(): JsonNode {
    const at = this.i;
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(this.text.slice(this.i, this.i + 400));
    if (!m || m[0] === '-') return this.fail(at, 'a number');
    this.i += m[0].length;
    return { t: 'number', at, raw: m[0] };
  }
}
