// Global setup for every vitest project: a per-run token and temp dir, a snapshot of the host, and at
// the end the leak check. The teardown THROWS when the run left anything behind (mounts, cgroups,
// state dirs, processes, network namespaces, veth devices), which makes `vitest run` exit non-zero.
//
// Under test/run-suite.mjs (TSLAB_TEST_SHARED_HOST=1) other vitest processes run beside this one: the
// checks named by this run's prefix and paths stay here, and the whole-host snapshot (network namespaces,
// veths, bridges, addresses, overlay mounts: things no prefix names) is taken and compared by the runner,
// once around all of them.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node';
import type { TestRun } from './helpers/bundle.js';
import { findLeaksSettled, findPrefixedCgroups, formatLeaks, isMountedUnder, snapshotHost } from './helpers/leaks.js';

export default function setup(project: TestProject): () => Promise<void> {
  const token = randomBytes(3).toString('hex');
  const run: TestRun = {
    token,
    prefix: `tslabtest-${token}`,
    base: path.join(os.tmpdir(), `tslabtest-${token}`),
  };
  fs.mkdirSync(run.base, { recursive: true });
  project.provide('tslabTest', run);

  const snapshot = process.env.TSLAB_TEST_SHARED_HOST === '1' ? undefined : snapshotHost();
  // Leftovers of earlier runs are not this run's fault, but worth a word. Not under npm test: there the jobs
  // running beside this one have live cgroups of their own under the same 'tslabtest-' start, and each job's
  // teardown checks its own prefix.
  const stale = process.env.TSLAB_TEST_SHARED_HOST === '1' ? [] : findPrefixedCgroups('tslabtest-').filter((p) => !p.includes(run.prefix));
  if (stale.length) console.warn(`[tslab tests] cgroups left by an earlier run (not touched):\n  ${stale.join('\n  ')}`);

  return async () => {
    // Every file's state dir (`<base>/<file>/root`) must be empty by now.
    const stateRoots = fs.existsSync(run.base)
      ? fs.readdirSync(run.base).map((d) => path.join(run.base, d, 'root')).filter((d) => fs.existsSync(d))
      : [];
    const scope = { prefix: run.prefix, paths: [run.base], stateRoots };
    const leaks = await findLeaksSettled(scope, snapshot);
    if (leaks.length) {
      // vitest only logs an error thrown by a global teardown ("error during close") and still exits 0:
      // set the exit code ourselves so the run fails.
      process.exitCode = 1;
      throw new Error(
        `[tslab tests] project ${project.name}: the run leaked (left in place for inspection):\n${formatLeaks(leaks)}`,
      );
    }
    if (!isMountedUnder(run.base)) fs.rmSync(run.base, { recursive: true, force: true });
  };
}
