// Where `tslab run` keeps its containers: <data>/containers/<id>/ (record, bundle, overlay dirs, log), and the
// state root it gives tslab-runtime.
import * as path from 'node:path';
import { dataDir } from '../fs/data-dir.js';

export function containersDir(): string {
  return path.join(dataDir(), 'containers');
}

export function containerDir(id: string): string {
  return path.join(containersDir(), id);
}

export function runtimeRoot(): string {
  return path.join(dataDir(), 'runtime');
}

export function networkStateDir(): string {
  return path.join(dataDir(), 'network');
}
