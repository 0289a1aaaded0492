// Errors raised while reading and checking a bundle's config.json.

export interface SpecErrorDetails {
  /** The JSON path of the offending field, like `process.args[1]`; '' when the whole document is at fault. */
  field?: string;
  /** The config.json file the problem was found in, when there is one. */
  file?: string;
  /** 1-based line and column in that file, when known. */
  line?: number;
  column?: number;
}

/**
 * A config.json problem. `message` is a full sentence meant for a learner; `field` names the
 * JSON path at fault (`process.args[1]`, `linux.namespaces[2].type`), '' for the whole document.
 */
export class SpecError extends Error {
  readonly field: string;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(message: string, details: SpecErrorDetails = {}) {
    super(message);
    this.name = 'SpecError';
    this.field = details.field ?? '';
    this.file = details.file;
    this.line = details.line;
    this.column = details.column;
  }

  /** Same as `field`: the JSON path at fault. */
  get path(): string {
    return this.field;
  }
}
