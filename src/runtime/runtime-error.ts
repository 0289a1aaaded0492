import { errnoNumber, errnoText } from '../linux/errno.js';

/** A runtime failure a user caused or can fix: printed as one sentence, exit status 1. */
export class RuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeError';
  }
}

/**
 * A failed file operation as a sentence that says what was being done, on which file, and the errno
 * with its meaning ("cannot write /run/tslab/web/state.json: ENOSPC (no space left on device)"), where
 * Node's own message would say only "ENOSPC: no space left on device, write".
 */
export function fileError(doing: string, file: string, err: unknown): RuntimeError {
  if (err instanceof RuntimeError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const errno = code === undefined ? undefined : errnoNumber(code);
  const why = code === undefined ? String((err as Error)?.message ?? err) : errno === undefined ? code : `${code} (${errnoText(errno)})`;
  const error = new RuntimeError(`cannot ${doing} ${file}: ${why}`);
  (error as { cause?: unknown }).cause = err;
  return error;
}
