// Lesson 11's kernel step in a process of its own (a filter cannot be removed): builds the profile given as
// JSON, reports the thread's seccomp state, loads it, and reports again with what unshare and setns answer.
// test/kernel/seccomp-filter-step.test.ts bundles it with esbuild.
//   node seccomp-filter-probe.cjs PROFILE_JSON
import * as fs from 'node:fs';
import { SyscallError } from '../../src/linux/error.js';
import { O_CLOEXEC, O_RDONLY, close, open } from '../../src/linux/fs.js';
import { CLONE_NEWUTS, setns, unshare } from '../../src/linux/namespaces.js';
import { buildFilter, loadFilter, type SeccompProfile } from '../../src/runtime/steps/seccomp-filter.js';

const status = (field: string) => fs.readFileSync('/proc/thread-self/status', 'utf8').match(new RegExp(`^${field}:\\s*(\\S+)`, 'm'))?.[1];

function errnoOf(fn: () => void): string {
  try {
    fn();
    return 'worked';
  } catch (err) {
    return err instanceof SyscallError ? err.code : String(err);
  }
}

// The test worker may itself run under filters (a CI container): counts are compared with this one.
const before = Number(status('Seccomp_filters'));
const filter = buildFilter(JSON.parse(process.argv[2]) as SeccompProfile);
const built = { added: Number(status('Seccomp_filters')) - before };
loadFilter(filter);
const uts = open('/proc/thread-self/ns/uts', O_RDONLY | O_CLOEXEC);
const answers = { unshare: errnoOf(() => unshare(CLONE_NEWUTS)), setns: errnoOf(() => setns(uts, CLONE_NEWUTS)) };
close(uts);
process.stdout.write(`${JSON.stringify({ built, loaded: { seccomp: status('Seccomp'), added: Number(status('Seccomp_filters')) - before, noNewPrivs: status('NoNewPrivs') }, answers })}\n`);
