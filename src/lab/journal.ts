// Every change the lab makes on the host is written here *before* it is made, and removed once undone, so
// that quitting, Ctrl-C mid-cell, or `tslab reset` after a crash can always put the host back.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCgroupManager, type SavedCgroups } from '../runtime/cgroups/index.js';
import { removeLink, withRouteSocket } from '../linux/netlink.js';
import { isAlive, waitForExit } from '../linux/proc.js';
import { labStateDir } from './paths.js';

export type JournalEntry =
  | { kind: 'process'; pid: number; startTime: number }
  | { kind: 'cgroups'; saved: SavedCgroups }
  | { kind: 'veth'; name: string }
  | { kind: 'dir'; path: string };

function journalFile(): string {
  return path.join(labStateDir(), 'journal.json');
}

function read(): JournalEntry[] {
  try {
    return JSON.parse(fs.readFileSync(journalFile(), 'utf8')) as JournalEntry[];
  } catch {
    return [];
  }
}

function write(entries: JournalEntry[]): void {
  fs.mkdirSync(labStateDir(), { recursive: true });
  const file = journalFile();
  if (!entries.length) {
    fs.rmSync(file, { force: true });
    return;
  }
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(entries, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

export function record(entry: JournalEntry): void {
  write([...read(), entry]);
}

export function pending(): JournalEntry[] {
  return read();
}

function sameEntry(a: JournalEntry, b: JournalEntry): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function killAndWait(pid: number, startTime: number): void {
  if (!isAlive(pid, startTime)) return;
  // The container leads its own process group (spawned detached): without a PID namespace its children
  // would outlive it, so the whole group goes.
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // That group or process is already gone.
    }
  }
  // Usually not our child (it was reparented), so we cannot reap it: wait until it is gone or a zombie.
  waitForExit(pid, startTime, 5000);
}

function interfaceExists(name: string): boolean {
  return fs.existsSync(path.join('/sys/class/net', name));
}

function undoOne(entry: JournalEntry): void {
  switch (entry.kind) {
    case 'process':
      killAndWait(entry.pid, entry.startTime);
      return;
    case 'cgroups':
      loadCgroupManager(entry.saved).destroy({ kill: true });
      return;
    case 'veth':
      // Deleting one end removes its peer. The kernel also removes the pair by itself, asynchronously, once
      // the container's network namespace is gone: a failed delete is fine if the device has vanished.
      try {
        if (interfaceExists(entry.name)) withRouteSocket((sock) => removeLink(sock, entry.name));
      } catch (err) {
        if (interfaceExists(entry.name)) throw err;
      }
      return;
    case 'dir':
      fs.rmSync(entry.path, { recursive: true, force: true });
      return;
  }
}

export function describe(entry: JournalEntry): string {
  switch (entry.kind) {
    case 'process':
      return `process ${entry.pid}`;
    case 'cgroups':
      return `cgroups ${[...new Set(entry.saved.hierarchies.map((h) => h.dir))].join(', ')}`;
    case 'veth':
      return `network device ${entry.name}`;
    case 'dir':
      return `directory ${entry.path}`;
  }
}

export class UndoError extends Error {}

/**
 * Undoes the given entries (default: all), newest first; returns what was undone. An entry that cannot be
 * undone stays in the journal (for `tslab reset`), the others are still undone, and then it is reported.
 */
export function undo(only?: (entry: JournalEntry) => boolean): string[] {
  const undone: string[] = [];
  const failed: string[] = [];
  for (const entry of read().reverse()) {
    if (only && !only(entry)) continue;
    try {
      undoOne(entry);
    } catch (err) {
      failed.push(`${describe(entry)}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    undone.push(describe(entry));
    write(read().filter((e) => !sameEntry(e, entry)));
  }
  if (failed.length) throw new UndoError(`could not undo ${failed.join('; ')} (undone: ${undone.join(', ') || 'nothing'}); \`tslab reset\` tries again`);
  return undone;
}
