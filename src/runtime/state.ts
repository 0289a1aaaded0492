// The runtime's record of each container: one directory per id under the root (default /run/tslab),
// holding state.json (written atomically), the exec FIFO while the container is created, and a lock.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LOCK_EX, flock } from '../linux/fs.js';
import type { SavedCgroups } from './cgroups/index.js';
import { RuntimeError } from './errors.js';
import type { Hooks } from './spec/types.js';

export const DEFAULT_ROOT = '/run/tslab';
export const EXEC_FIFO = 'exec.fifo';

export interface ContainerRecord {
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
}

export class StateStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return path.join(this.root, id);
  }

  fifoPath(id: string): string {
    return path.join(this.dir(id), EXEC_FIFO);
  }

  /** Claims the id: fails if a container with it exists. */
  claim(id: string): void {
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      fs.mkdirSync(this.dir(id), { mode: 0o711 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new RuntimeError(`container with id exists: ${id}`);
      throw err;
    }
  }

  exists(id: string): boolean {
    return fs.existsSync(path.join(this.dir(id), 'state.json'));
  }

  read(id: string): ContainerRecord {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir(id), 'state.json'), 'utf8')) as ContainerRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new RuntimeError(`container does not exist: ${id}`);
      throw new RuntimeError(`state of container ${id} is unreadable (${(err as Error).message}); delete --force removes it`);
    }
  }

  write(record: ContainerRecord): void {
    const file = path.join(this.dir(record.id), 'state.json');
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(record));
    fs.renameSync(tmp, file);
  }

  remove(id: string): void {
    fs.rmSync(this.dir(id), { recursive: true, force: true });
  }

  list(): string[] {
    try {
      return fs.readdirSync(this.root).filter((id) => this.exists(id)).sort();
    } catch {
      return [];
    }
  }

  /** Holds an exclusive lock on the container's directory until the process exits or `release` is called. */
  lock(id: string): () => void {
    let fd: number;
    try {
      fd = fs.openSync(this.dir(id), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new RuntimeError(`container does not exist: ${id}`);
      throw err;
    }
    flock(fd, LOCK_EX, this.dir(id));
    return () => fs.closeSync(fd);
  }
}

/** Writes a file atomically (pid files are read by engines while we write them). */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
