// The engine's own file operations (records, bundles, logs) fail with Node's bare messages ("ENOSPC: no space
// left on device, write" names no file). Each runs through fileStep, so a failure says what was being done,
// on which path, and the errno's meaning.
import { errnoNumber, errnoText } from '../linux/errno.js';

export class EngineFileError extends Error {}

/** Runs `step`; anything it throws becomes an EngineFileError "<doing> <file>: <ERRNO> — <meaning>". */
export function fileStep<T>(doing: string, file: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof EngineFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const errno = code ? errnoNumber(code) : undefined;
    throw new EngineFileError(`${doing} ${file}: ${errno === undefined ? (err as Error).message : `${code} — ${errnoText(errno)}`}`);
  }
}
