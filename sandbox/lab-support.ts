// What the starter steps need from the lab: the error a step throws until you write it.

/** Thrown by a starter step that is still empty; the lab shows its message and which lesson writes it. */
export class NotWrittenYet extends Error {
  readonly lesson: number;
  readonly fn: string;
  readonly file: string;

  constructor(lesson: number, fn: string, file: string, hint: string) {
    super(`${fn}() in sandbox/steps/${file} is not written yet (lesson ${lesson}). Hint: ${hint}`);
    this.name = 'NotWrittenYet';
    this.lesson = lesson;
    this.fn = fn;
    this.file = file;
  }
}
