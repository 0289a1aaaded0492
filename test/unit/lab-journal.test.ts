// The journal of host changes (src/lab/journal.ts): written before a change is made, undone newest first,
// each entry removed once undone. Only `dir` and `process` entries are tried here (no kernel state).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import * as journal from '../../src/lab/journal.js';
import { readProcStat } from '../../src/linux/proc.js';

let dataDir = '';
let scratch = '';
const children: ChildProcess[] = [];
const envBefore = process.env.TSLAB_DATA_DIR;

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-journal-'));
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-journal-scratch-'));
  process.env.TSLAB_DATA_DIR = dataDir;
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  if (envBefore === undefined) delete process.env.TSLAB_DATA_DIR;
  else process.env.TSLAB_DATA_DIR = envBefore;
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(scratch, { recursive: true, force: true });
});

const journalFile = () => path.join(dataDir, 'lab', 'journal.json');

function makeDir(name: string): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'sub', 'file'), 'x');
  return dir;
}

function sleeper(): ChildProcess {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

describe('journal', () => {
  test('empty: nothing pending, no file, undo does nothing', () => {
    expect(journal.pending()).toEqual([]);
    expect(journal.undo()).toEqual([]);
    expect(fs.existsSync(journalFile())).toBe(false);
  });

  test('record writes the entry to $TSLAB_DATA_DIR/lab/journal.json before anything else', () => {
    const dir = path.join(scratch, 'not-made-yet');
    journal.record({ kind: 'dir', path: dir });
    expect(journal.pending()).toEqual([{ kind: 'dir', path: dir }]);
    expect(JSON.parse(fs.readFileSync(journalFile(), 'utf8'))).toEqual([{ kind: 'dir', path: dir }]);
  });

  test('undo of a dir entry really removes the directory (recursively) and empties the journal', () => {
    const dir = makeDir('rootfs');
    journal.record({ kind: 'dir', path: dir });
    expect(journal.undo()).toEqual([`directory ${dir}`]);
    expect(fs.existsSync(dir)).toBe(false);
    expect(journal.pending()).toEqual([]);
    expect(fs.existsSync(journalFile())).toBe(false);
    expect(fs.existsSync(scratch)).toBe(true); // only the recorded dir
  });

  test('undo of a dir that is already gone succeeds', () => {
    const dir = path.join(scratch, 'never-made');
    journal.record({ kind: 'dir', path: dir });
    expect(journal.undo()).toEqual([`directory ${dir}`]);
    expect(journal.pending()).toEqual([]);
  });

  test('undo goes newest first and returns what it undid in that order', () => {
    const a = makeDir('a');
    const b = makeDir('b');
    journal.record({ kind: 'dir', path: a });
    journal.record({ kind: 'dir', path: b });
    expect(journal.undo()).toEqual([`directory ${b}`, `directory ${a}`]);
    expect(fs.existsSync(a) || fs.existsSync(b)).toBe(false);
  });

  test('undo(filter) undoes only the matching entries and keeps the others', () => {
    const keep = makeDir('keep');
    const drop = makeDir('drop');
    journal.record({ kind: 'dir', path: keep });
    journal.record({ kind: 'dir', path: drop });
    expect(journal.undo((e) => e.kind === 'dir' && e.path === drop)).toEqual([`directory ${drop}`]);
    expect(fs.existsSync(drop)).toBe(false);
    expect(fs.existsSync(keep)).toBe(true);
    expect(journal.pending()).toEqual([{ kind: 'dir', path: keep }]);
    journal.undo();
    expect(fs.existsSync(keep)).toBe(false);
  });

  test('undo of a process entry kills that process (matched by pid and start time)', async () => {
    const child = sleeper();
    const startTime = readProcStat(child.pid!)!.startTime;
    const exit = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    journal.record({ kind: 'process', pid: child.pid!, startTime });
    expect(journal.undo()).toEqual([`process ${child.pid}`]);
    expect(await exit).toBe('SIGKILL');
    expect(journal.pending()).toEqual([]);
  });

  test('a process entry whose start time does not match (a reused pid) is not killed', async () => {
    const child = sleeper();
    const startTime = readProcStat(child.pid!)!.startTime;
    journal.record({ kind: 'process', pid: child.pid!, startTime: startTime + 1 });
    expect(journal.undo()).toEqual([`process ${child.pid}`]);
    await new Promise((r) => setTimeout(r, 50));
    expect(child.exitCode).toBeNull();
    expect(child.signalCode).toBeNull();
    expect(readProcStat(child.pid!)?.startTime).toBe(startTime);
    expect(journal.pending()).toEqual([]);
  });

  test('describe names each kind of entry', () => {
    expect(journal.describe({ kind: 'dir', path: '/x' })).toBe('directory /x');
    expect(journal.describe({ kind: 'veth', name: 'tslab-lab0' })).toBe('network device tslab-lab0');
    expect(journal.describe({ kind: 'process', pid: 42, startTime: 1 })).toBe('process 42');
  });

  test('a damaged journal reads as empty', () => {
    fs.mkdirSync(path.join(dataDir, 'lab'), { recursive: true });
    fs.writeFileSync(journalFile(), '[{"kind":');
    expect(journal.pending()).toEqual([]);
  });
});
