// The tslab package this code runs from (the checkout holding package.json, dist/ and bin/), and how its
// own Node helper programs (the -d monitor, the -p proxy) are started.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    if (path.dirname(dir) === dir) throw new Error(`cannot find the tslab checkout around ${import.meta.url}`);
    dir = path.dirname(dir);
  }
  return dir;
}

/** A bundled program of dist/, e.g. distScript('net', 'port-proxy-main.cjs'). */
export function distScript(...parts: string[]): string {
  return path.join(projectRoot(), 'dist', ...parts);
}

/**
 * The environment of tslab's own Node helpers. They never speak TLS, and Node reads NODE_EXTRA_CA_CERTS at
 * every start-up (about 50 ms on a machine that sets it).
 */
export function helperEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}
