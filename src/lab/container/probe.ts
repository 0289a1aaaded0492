// Calls one exported step function and prints its result as JSON, so that the lab can try a learner's step
// in a process of its own (a step that crashes or hangs cannot take the lab with it). setHostname and
// bringUpInterface change the namespace they run in, mountOverlay mounts: the checks start the probe in a new
// one (unshare(1)).
//   node probe.cjs FUNCTION ARGS_JSON
import * as preflight from '../../runtime/steps/preflight.js';
import * as exitStatus from '../../runtime/steps/exit-status.js';
import * as hostname from '../../runtime/steps/hostname.js';
import * as loopback from '../../runtime/steps/loopback.js';
import * as idMaps from '../../runtime/steps/id-maps.js';
import * as overlay from '../../runtime/steps/overlay.js';

const FUNCTIONS: Record<string, (...args: never[]) => unknown> = { ...preflight, ...exitStatus, ...hostname, ...loopback, ...idMaps, ...overlay };

const [name, argsJson] = process.argv.slice(2);
try {
  const fn = FUNCTIONS[name];
  if (!fn) throw new Error(`no step function "${name}" can be probed`);
  const result = fn(...(JSON.parse(argsJson ?? '[]') as never[]));
  process.stdout.write(`${JSON.stringify({ ok: true, result: result ?? null })}\n`);
} catch (err) {
  const e = err as Error;
  process.stdout.write(`${JSON.stringify({ ok: false, name: e?.name, error: e instanceof Error ? e.message : String(err) })}\n`);
}
