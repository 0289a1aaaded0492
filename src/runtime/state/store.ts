// The runtime's record of each container: one directory per id under the root (default /run/tslab),
// holding state.json (written atomically), the create's journal, the exec FIFO while the container is
// created, and a lock.
//
// Every id is checked here, before it becomes a path (runc's "invalid container ID format"), so no
// command can reach outside the root with "../x", "." or "a/b". Nothing found in the root is followed:
// a state directory that is a symlink is refused (and delete --force removes the link, never its
// target), and state.json is read only if it is a regular file of sensible size.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SyscallError } from '../../linux/error.js';
import { LOCK_EX, LOCK_NB, O_CLOEXEC, O_DIRECTORY, O_NONBLOCK, O_RDONLY, close, flock, openat } from '../../linux/fs.js';
import type { SavedCgroups } from '../cgroups/index.js';
import { RuntimeError, fileError } from '../runtime-error.js';
import { validateContainerId } from './ids.js';
import { readProcStat } from '../../linux/proc.js';
import type { Hooks, Seccomp } from '../spec/types.js';

export const DEFAULT_ROOT = '/run/tslab';
const EXEC_FIFO = 'exec.fifo';
const STATE_FILE = 'state.json';
const JOURNAL_FILE = 'journal.json';
/** state.json holds the config's hooks and annotations; anything larger was not written by us. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const O_NOFOLLOW = fs.constants.O_NOFOLLOW;

export interface StateRecord {
  ociVersion: string;
  id: string;
  pid: number;
  /** /proc/<pid>/stat start time, so a recycled pid is never mistaken for the container. */
  pidStartTime: number;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations: Record<string, string>;
  cgroups: SavedCgroups;
  hooks?: Hooks;
  /** linux.seccomp as created: exec applies the same filter to its processes (runc keeps it in its state too). */
  seccomp?: Seccomp;
}

/** A process create started, known by pid and start time (a recycled pid is never taken for it). */
export interface JournalProcess {
  pid: number;
  startTime: number;
}

/** A process for the journal, right after its birth (its start time tells it from a later one with its pid). */
export function journalProcess(pid: number): JournalProcess {
  return { pid, startTime: readProcStat(pid)?.startTime ?? 0 };
}

/**
 * What a create has made, or is about to make: each entry is written BEFORE the thing it names is made
 * (or, for a process, right after it is born), so a create killed at any point leaves enough behind for
 * delete --force to undo all of it.
 */
export interface CreateJournal {
  /** The container's PID-1 stage. */
  stage?: JournalProcess;
  /** Hooks running now, each the leader of its own process group. */
  hooks: JournalProcess[];
  /** The container's cgroups; `created` lists the directories create() makes (made or about to be). */
  cgroups?: SavedCgroups;
}

/** What is at <root>/<id>: nothing, a state directory, or something else (a symlink, a file) that is not ours. */
export type EntryKind = 'none' | 'directory' | 'foreign';

export class StateStore {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** The container's state directory; throws for an id runc would refuse. */
  dir(id: string): string {
    validateContainerId(id);
    return path.join(this.root, id);
  }

  fifoPath(id: string): string {
    return path.join(this.dir(id), EXEC_FIFO);
  }

  /** Claims the id (fails if a container with it exists) and returns the release of its lock, held from now on. */
  claim(id: string): () => void {
    const dir = this.dir(id);
    try {
      fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    } catch (err) {
      throw fileError('create the state root', this.root, err);
    }
    try {
      fs.mkdirSync(dir, { mode: 0o711 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new RuntimeError(`container with id exists: ${id}`);
      throw fileError("create the container's state directory", dir, err);
    }
    return this.lock(id);
  }

  entry(id: string): EntryKind {
    const dir = this.dir(id);
    try {
      return fs.lstatSync(dir).isDirectory() ? 'directory' : 'foreign';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
      throw fileError('look at the state directory', dir, err);
    }
  }

  exists(id: string): boolean {
    return this.entry(id) === 'directory' && fs.existsSync(path.join(this.dir(id), STATE_FILE));
  }

  read(id: string): StateRecord {
    const text = this.readFile(id, STATE_FILE);
    if (text === undefined) throw new RuntimeError(`container does not exist: ${id}`);
    let record: StateRecord;
    try {
      record = JSON.parse(text) as StateRecord;
    } catch (err) {
      throw this.unreadable(id, (err as Error).message);
    }
    // A record copied in from elsewhere (or damaged) must not steer kill, delete or a poststop hook.
    if (record?.id !== id) throw this.unreadable(id, `it names the container ${JSON.stringify(record?.id)}`);
    if (!Number.isSafeInteger(record.pid) || record.pid <= 0) throw this.unreadable(id, `its pid ${JSON.stringify(record.pid)} is not a process id`);
    if (typeof record.cgroups !== 'object' || record.cgroups === null) throw this.unreadable(id, 'it has no cgroups');
    return record;
  }

  write(record: StateRecord): void {
    this.writeFile(record.id, STATE_FILE, JSON.stringify(record));
  }

  /** The create's journal, or undefined if there is none (an empty claim, or a container from before journals). */
  readJournal(id: string): CreateJournal | undefined {
    const text = this.readFile(id, JOURNAL_FILE);
    if (text === undefined) return undefined;
    try {
      const journal = JSON.parse(text) as CreateJournal;
      return { ...journal, hooks: Array.isArray(journal.hooks) ? journal.hooks : [] };
    } catch (err) {
      throw new RuntimeError(`the create journal ${path.join(this.dir(id), JOURNAL_FILE)} is unreadable (${(err as Error).message})`);
    }
  }

  writeJournal(id: string, journal: CreateJournal): void {
    this.writeFile(id, JOURNAL_FILE, JSON.stringify(journal));
  }

  /** Removes the id's entry in the root. A directory goes with what is in it; a symlink goes, never its target. */
  remove(id: string): void {
    const dir = this.dir(id);
    try {
      if (this.entry(id) === 'foreign') fs.unlinkSync(dir);
      // rm works on lstat: a symlink inside is unlinked, not followed.
      else fs.rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      throw fileError("remove the container's state directory", dir, err);
    }
  }

  list(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch {
      return [];
    }
    return names.filter((id) => isListable(id) && this.exists(id)).sort();
  }

  /**
   * Ids whose create died before it recorded the container: a directory with a journal and no state, which no
   * create is working on now (its lock is free). `delete --force` undoes what such a create made.
   */
  unfinished(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch {
      return [];
    }
    return names.filter((id) => isListable(id) && this.entry(id) === 'directory' && !this.exists(id) && fs.existsSync(path.join(this.dir(id), JOURNAL_FILE)) && this.lockIsFree(id)).sort();
  }

  private lockIsFree(id: string): boolean {
    let fd: number;
    try {
      fd = fs.openSync(this.dir(id), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch {
      return false;
    }
    try {
      flock(fd, LOCK_EX | LOCK_NB);
      return true;
    } catch {
      return false; // EWOULDBLOCK: a create holds it
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Holds an exclusive lock on the container's directory until the process exits or `release` is called. */
  lock(id: string): () => void {
    const dir = this.dir(id);
    let fd: number;
    try {
      fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new RuntimeError(`container does not exist: ${id}`);
      if (code === 'ELOOP' || code === 'ENOTDIR') throw this.foreign(id);
      throw fileError("open the container's state directory", dir, err);
    }
    try {
      flock(fd, LOCK_EX, dir);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    return () => fs.closeSync(fd);
  }

  /**
   * A file of the state directory as text, or undefined if it does not exist. The directory is opened
   * without following a symlink, the file too, and only a regular file of at most MAX_RECORD_BYTES is read
   * (non-blocking: a FIFO put there cannot hang us).
   */
  private readFile(id: string, name: string): string | undefined {
    const dir = this.dir(id);
    const file = path.join(dir, name);
    let dirFd: number;
    try {
      dirFd = fs.openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP' || code === 'ENOTDIR') throw this.foreign(id);
      throw fileError("open the container's state directory", dir, err);
    }
    let fd: number;
    try {
      fd = openat(dirFd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    } catch (err) {
      if (err instanceof SyscallError && err.code === 'ENOENT') return undefined;
      if (err instanceof SyscallError && err.code === 'ELOOP') throw this.unreadable(id, `${file} is a symbolic link`);
      throw fileError('open', file, err);
    } finally {
      fs.closeSync(dirFd);
    }
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile()) throw this.unreadable(id, `${file} is not a regular file`);
      if (stat.size > MAX_RECORD_BYTES) throw this.unreadable(id, `${file} is ${stat.size} bytes, more than the ${MAX_RECORD_BYTES} a state file may have`);
      return readAll(fd, stat.size, file);
    } finally {
      close(fd);
    }
  }

  /** Writes a file of the state directory atomically (a temp file renamed over it). */
  private writeFile(id: string, name: string, text: string): void {
    const file = path.join(this.dir(id), name);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, text);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw fileError('write', tmp, err);
    }
    try {
      fs.renameSync(tmp, file);
    } catch (err) {
      throw fileError(`rename ${tmp} to`, file, err);
    }
  }

  private unreadable(id: string, why: string): RuntimeError {
    return new RuntimeError(`state of container ${id} is unreadable (${why}); delete --force removes it`);
  }

  private foreign(id: string): RuntimeError {
    return new RuntimeError(
      `${path.join(this.root, id)} is not a container's state directory (it is a symbolic link or a file, which tslab-runtime never makes); ` +
        'delete --force removes that entry, never what it points to',
    );
  }
}

/** Entries of the root that can be containers: valid ids (temp files and strays are skipped). */
function isListable(name: string): boolean {
  try {
    validateContainerId(name);
    return true;
  } catch {
    return false;
  }
}

/** Reads `size` bytes (what fstat said) and whatever more there is up to the cap, as UTF-8. */
function readAll(fd: number, size: number, file: string): string {
  const buf = Buffer.alloc(Math.min(size + 1, MAX_RECORD_BYTES + 1));
  let length = 0;
  try {
    for (let n: number; length < buf.length && (n = fs.readSync(fd, buf, length, buf.length - length, null)) > 0; ) length += n;
  } catch (err) {
    throw fileError('read', file, err);
  }
  if (length > MAX_RECORD_BYTES) throw new RuntimeError(`${file} grew past ${MAX_RECORD_BYTES} bytes while it was read`);
  return buf.toString('utf8', 0, length);
}

/** Writes a file atomically (pid files are read by engines while we write them). */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw fileError('write', file, err);
  }
}
