// Container ID rules, as runc 1.1.5 enforces them (libcontainer/factory_linux.go, utils_linux.go).
//
// runc's pattern is the Go regexp `^[\w+-\.]+$`. Inside the brackets `+-\.` is a *range* from '+' (0x2B)
// to '.' (0x2E), so the allowed characters are ASCII letters, digits, '_', '+', ',', '-' and '.'
// (yes, a comma is allowed). Because the ID becomes a directory name under the state root, runc also
// refuses IDs that path cleaning would change: only "." and ".." match the pattern and change.
// runc checks the ID in every command (create, state, kill, delete, start, pause, resume, ps, exec); the
// StateStore checks it in every method that turns an ID into a path, so no command can skip the check.
import { RuntimeError } from '../runtime-error.js';

/** The longest directory name (NAME_MAX): runc's own mkdir/lstat fails beyond it with ENAMETOOLONG. */
const MAX_ID_LENGTH = 255;

/** A container ID that runc would refuse. */
export class ContainerIdError extends RuntimeError {
  readonly id: string;
  constructor(id: string, message: string) {
    super(message);
    this.name = 'ContainerIdError';
    this.id = id;
  }
}

const ID_PATTERN = /^[A-Za-z0-9_+,\-.]+$/;

/** True if runc would accept `id` as a container ID. */
export function isValidContainerId(id: string): boolean {
  return ID_PATTERN.test(id) && id !== '.' && id !== '..' && id.length <= MAX_ID_LENGTH;
}

/** Throw ContainerIdError unless `id` is a container ID runc would accept. */
export function validateContainerId(id: string): void {
  if (id === '') {
    // runc's own words for a missing ID.
    throw new ContainerIdError(id, 'container id cannot be empty');
  }
  if (isValidContainerId(id)) return;
  const why =
    id === '.' || id === '..'
      ? `${JSON.stringify(id)} is a directory name with a special meaning, and the ID names a directory under the state root`
      : ID_PATTERN.test(id)
        ? `the ID is ${id.length} characters long, and it names a directory, whose name can have at most ${MAX_ID_LENGTH}`
        : `${JSON.stringify(id.length > 80 ? `${id.slice(0, 80)}…` : id)} contains ${describeBad(id)}; an ID may use only letters, digits and the characters _ + , - .`;
  // runc says "invalid container ID format"; the rest is for the learner.
  throw new ContainerIdError(id, `invalid container ID format: ${why}`);
}

function describeBad(id: string): string {
  for (const ch of id) {
    if (!/^[A-Za-z0-9_+,\-.]$/.test(ch)) {
      if (ch === '/') return "'/' (the ID is used as a single directory name, so it cannot contain a slash)";
      if (ch === ' ') return 'a space';
      const code = ch.codePointAt(0)!;
      return code < 0x20 || code === 0x7f
        ? `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`
        : `the character ${JSON.stringify(ch)}`;
    }
  }
  return 'a character that is not allowed';
}
