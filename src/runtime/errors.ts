/** A runtime failure a user caused or can fix: printed as one sentence, exit status 1. */
export class RuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeError';
  }
}
