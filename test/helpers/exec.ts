// What exec's test files share: a running container to exec into, and exec itself.
import type { RunResult } from './runtime.js';
import { expectOk } from './runtime.js';
import type { Bundle, SpecMutator, Suite } from './bundle.js';

/** The output's lines, without carriage returns (a terminal's) or empty ones. */
export function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.replace(/\r$/, '')).filter((l) => l !== '');
}

export function execHelpers(s: Suite) {
  /** A started container whose init sleeps; returns its id and the host pid of its init. */
  async function running(mutate?: SpecMutator): Promise<{ id: string; pid: number; bundle: Bundle }> {
    const bundle = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      mutate?.(spec);
    });
    const id = s.id();
    expectOk(await s.create(bundle, id));
    expectOk(await s.rt.exec(['start', id]));
    const state = await s.rt.waitForStatus(id, 'running');
    return { id, pid: state.pid, bundle };
  }

  function exec(id: string, args: string[], flags: string[] = []): Promise<RunResult> {
    return s.rt.exec(['exec', ...flags, id, ...args]);
  }

  return { running, exec };
}
