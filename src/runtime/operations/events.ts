// `events`: a container's resource usage and OOM kills as JSON lines, in runc's shape
// ({"type":"stats","id":...,"data":{...}} and {"type":"oom","id":...}).
//   --stats       one stats event, then exit;
//   the stream    a stats event every --interval, and an oom event as soon as the OOM killer kills in the
//                 container's cgroup. Like runc's, the stream goes on after the container stops (its cgroup is
//                 still there); it ends, with success, when the container is deleted.

import { setTimeout as sleep } from 'node:timers/promises';
import { loadCgroupManager } from '../cgroups/index.js';
import { RuntimeError } from '../runtime-error.js';
import { containerStatus } from '../state/status.js';
import type { StateStore } from '../state/store.js';

export interface EventsOptions {
  stats: boolean;
  /** Between two stats events. */
  intervalMs: number;
  write: (line: string) => void;
  /** Ends the stream (a signal, or the caller giving up). */
  signal?: AbortSignal;
}

/** How often the OOM counter is read: an OOM kill is reported within this time. */
const OOM_POLL_MS = 100;

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration as runc's --interval takes it ("5s", "100ms", "1m30s"), in milliseconds. */
export function parseGoDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let ms = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    ms += Number(m[1]) * GO_UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (text === '' || matched !== text.length) {
    throw new RuntimeError(`invalid value "${text}" for flag -interval: a duration is a number and a unit, like 5s, 500ms or 1m30s`);
  }
  if (ms < 1) throw new RuntimeError(`--interval ${text} is too short: the interval between stats must be at least 1ms`);
  return ms;
}

function event(type: 'stats' | 'oom', id: string, data?: unknown): string {
  return `${JSON.stringify(data === undefined ? { type, id } : { type, id, data })}\n`;
}


export async function containerEvents(store: StateStore, id: string, opts: EventsOptions): Promise<void> {
  const record = store.read(id);
  if (containerStatus(store, record) === 'stopped') throw new RuntimeError(`container with id ${id} is not running`);
  const cgroups = loadCgroupManager(record.cgroups);
  if (opts.stats) {
    opts.write(event('stats', id, cgroups.stats()));
    return;
  }
  let ooms = cgroups.oomKillCount();
  let nextStats = Date.now();
  while (!opts.signal?.aborted && store.exists(id)) {
    const kills = cgroups.oomKillCount();
    if (kills > ooms) opts.write(event('oom', id));
    ooms = kills;
    if (Date.now() >= nextStats) {
      opts.write(event('stats', id, cgroups.stats()));
      nextStats += opts.intervalMs;
    }
    // An abort ends the wait early; the loop then sees it and returns.
    await sleep(Math.min(OOM_POLL_MS, Math.max(0, nextStats - Date.now())), undefined, { signal: opts.signal }).catch(() => undefined);
  }
}
