// Calls an exported step function and prints its result as JSON, so that the lab can try a learner's step
// in a process of its own (a step that crashes or hangs cannot take the lab with it). setHostname and
// bringUpInterface change the namespace they run in, mountOverlay mounts: the checks start the probe in a new
// one (unshare(1)).
//   node probe.cjs FUNCTION ARGS_JSON           one call, one JSON line
//   node probe.cjs --each FUNCTION CALLS_JSON   a list of argument lists: one call each, in order, a JSON line
//                                               each (a pure step asked about many inputs pays one Node start)
import * as preflight from '../../runtime/steps/preflight.js';
import * as exitStatus from '../../runtime/steps/exit-status.js';
import * as hostname from '../../runtime/steps/hostname.js';
import * as loopback from '../../runtime/steps/loopback.js';
import * as idMaps from '../../runtime/steps/id-maps.js';
import * as overlay from '../../runtime/steps/overlay.js';
import { REPLY_MARK } from './probe-protocol.js';

const FUNCTIONS: Record<string, (...args: never[]) => unknown> = { ...preflight, ...exitStatus, ...hostname, ...loopback, ...idMaps, ...overlay };

/** Calls the function and prints its reply as one line, after `mark` (lab/probe-calls.ts reads it). */
function call(name: string, args: unknown[], mark = ''): void {
  let reply: string;
  try {
    const fn = FUNCTIONS[name];
    if (!fn) throw new Error(`no step function "${name}" can be probed`);
    reply = JSON.stringify({ ok: true, result: fn(...(args as never[])) ?? null });
  } catch (err) {
    const e = err as Error;
    reply = JSON.stringify({ ok: false, name: e?.name, error: e instanceof Error ? e.message : String(err) });
  }
  // After a newline: a step that printed without one must not swallow the mark.
  process.stdout.write(`\n${mark}${reply}\n`);
}

const argv = process.argv.slice(2);
if (argv[0] === '--each') {
  for (const args of JSON.parse(argv[2] ?? '[]') as unknown[][]) call(argv[1], args, REPLY_MARK);
} else {
  call(argv[0], JSON.parse(argv[1] ?? '[]') as unknown[]);
}
