// Runs tslab's programs as an unprivileged user. The checkout may sit below a directory only root can enter
// (CI clones into a mktemp -d, mode 0700), where uid 65534 could not even load the program and a refusal test
// would pass on "Cannot find module". So the built programs are copied to a directory everyone can read; the
// refusals come before anything outside these files is loaded.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './runtime.js';

const FILES = ['package.json', 'bin/tslab.cjs', 'bin/tslab-runtime.cjs', 'bin/cached-require.cjs', 'dist/cli/tslab.cjs', 'dist/cli/engine-commands.cjs', 'dist/cli/lab-commands.cjs', 'dist/cli/runtime.cjs', 'dist/runtime/init/stage.cjs'];

export const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/** A world-readable copy of the built programs; returns its directory (remove it when done). */
export function worldReadableBuild(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-nobody-'));
  for (const file of FILES) {
    fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, file), path.join(dir, file));
  }
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    fs.chmodSync(path.join(entry.parentPath, entry.name), 0o755);
  }
  fs.chmodSync(dir, 0o755);
  return dir;
}
