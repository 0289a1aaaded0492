// Container ids that try to leave the state root ("../x", ".", "", "a/b", an absolute path, control
// characters, a name too long for a directory), given to every command of tslab-runtime and of runc 1.1.5:
// both must refuse with a non-zero exit of their own (no signal, no hang), tslab with runc's words, and
// nothing outside the root may change. Next to the root sit a canary tree (a target for "../canary") and a
// foreign state directory whose state.json has a poststop hook: neither may be touched or run.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRun } from '../helpers/bundle.js';
import { REPO_ROOT } from '../helpers/runtime.js';

const TSLAB = process.env.TSLAB_TEST_RUNTIME_BIN || path.join(REPO_ROOT, 'bin/tslab-runtime.cjs');
const RUNTIMES = { tslab: TSLAB, runc: 'runc' } as const;

let base: string;
let root: string;
let canary: string;
let marker: string;

/** Every file and directory under `dir`, with the contents of each file. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        out[`${p}/`] = '';
        walk(p);
      } else out[p] = e.isSymbolicLink() ? `-> ${fs.readlinkSync(p)}` : fs.readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

beforeAll(() => {
  base = path.join(testRun().base, 'ids');
  root = path.join(base, 'a', 'root');
  canary = path.join(base, 'canary');
  marker = path.join(base, 'poststop-ran');
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(path.join(canary, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(canary, 'file'), 'canary\n');
  fs.writeFileSync(path.join(canary, 'sub', 'deep'), 'deep\n');
  // Another container's directory inside the root: "." or "" must not wipe it.
  fs.mkdirSync(path.join(root, 'bystander'));
  fs.writeFileSync(path.join(root, 'bystander', 'keep'), 'keep\n');
  // A foreign state directory next to the root, reachable as "../foreign": its poststop hook must never run.
  const foreign = path.join(base, 'a', 'foreign');
  fs.mkdirSync(foreign);
  fs.writeFileSync(
    path.join(foreign, 'state.json'),
    JSON.stringify({
      id: '../foreign', pid: 999999, pidStartTime: 1, ociVersion: '1.0.2', bundle: base, rootfs: base, created: '', owner: '', annotations: {},
      cgroups: { version: 1, mode: 'hybrid', hierarchies: [], created: [], enabled: [] },
      hooks: { poststop: [{ path: '/bin/sh', args: ['sh', '-c', `touch ${marker}`] }] },
    }),
  );
});

afterAll(() => {
  fs.rmSync(base, { recursive: true, force: true });
});

const BAD_IDS: Array<{ id: string; label: string; runcWords: RegExp }> = [
  { id: '../canary', label: '../canary', runcWords: /invalid container ID format/ },
  { id: '../../canary', label: '../../canary', runcWords: /invalid container ID format/ },
  { id: '../foreign', label: '../foreign', runcWords: /invalid container ID format/ },
  { id: '.', label: '.', runcWords: /invalid container ID format/ },
  { id: '..', label: '..', runcWords: /invalid container ID format/ },
  { id: '', label: 'empty', runcWords: /container id cannot be empty/ },
  { id: 'a/b', label: 'a/b', runcWords: /invalid container ID format/ },
  { id: '/etc', label: 'absolute', runcWords: /invalid container ID format/ },
  { id: 'a\nb', label: 'newline', runcWords: /invalid container ID format/ },
  { id: 'a\tb\u0001', label: 'control characters', runcWords: /invalid container ID format/ },
  // runc: "lstat <root>/<id>: file name too long"; tslab says why before touching the filesystem.
  { id: 'x'.repeat(300), label: '300 characters', runcWords: /./ },
];

const VERBS: string[][] = [['state'], ['kill'], ['kill', '--all'], ['delete'], ['delete', '--force'], ['start'], ['pause'], ['resume'], ['ps'], ['create', '--bundle', '.'], ['run', '--bundle', '.']];

describe.each(Object.entries(RUNTIMES))('%s: ids that leave the state root', (name, file) => {
  // Some 130 runtime commands one after another: seconds alone, a minute when the machine is busy.
  it('every command refuses each of them, and nothing outside the root changes', { timeout: 120_000 }, () => {
    const before = tree(base);
    const failures: string[] = [];
    for (const { id, label, runcWords } of BAD_IDS) {
      for (const verb of VERBS) {
        const args = [...verb.slice(0, 1), ...verb.slice(1), id];
        const r = spawnSync(file, ['--root', root, ...args], { cwd: base, encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
        const what = `${name} ${verb.join(' ')} <${label}>: status ${r.status} signal ${r.signal} stderr ${JSON.stringify(r.stderr.trim().slice(0, 200))}`;
        if (r.status === null || r.status === 0) failures.push(`${what}: expected a refusal (non-zero exit)`);
        else if (name === 'tslab' && !runcWords.test(r.stderr)) failures.push(`${what}: expected runc's words ${runcWords}`);
        else if (name === 'tslab' && label === '300 characters' && !/invalid container ID format: the ID is 300 characters long/.test(r.stderr)) {
          failures.push(`${what}: expected the length to be named`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(tree(base)).toEqual(before);
    expect(fs.existsSync(marker)).toBe(false);
  });
});

describe('tslab: a state directory that is a symlink', () => {
  it('is refused by state and delete, and delete --force removes only the link', () => {
    const link = path.join(root, 'lnk');
    fs.symlinkSync(canary, link);
    const before = tree(canary);
    const run = (...args: string[]) => spawnSync(TSLAB, ['--root', root, ...args], { encoding: 'utf8', timeout: 20_000 });
    for (const args of [['state', 'lnk'], ['delete', 'lnk'], ['kill', 'lnk', 'KILL']]) {
      const r = run(...args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/is not a container's state directory/);
    }
    expect(run('delete', '--force', 'lnk').status).toBe(0);
    expect(fs.existsSync(link)).toBe(false);
    expect(tree(canary)).toEqual(before);
  });
});
