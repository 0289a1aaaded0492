// The `tslab` lab commands through the real CLI (node bin/tslab.cjs), without a terminal: lessons, solution,
// reset (of a left-over journal), the refusal without root, the refusal of an interactive start without a
// terminal, a headless demo, and `tslab run --mine` with the learner's runtime.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { LOCK_EX, flock } from '../../src/linux/fs.js';
import { AS_NOBODY, worldReadableBuild } from '../helpers/unprivileged.js';
import {
  REPO_ROOT,
  catalog,
  copyStarterSandbox,
  describeResult,
  killStragglers,
  labLeftovers,
  lessonCells,
  lessonExists,
  runTslab,
  tempDirs,
  labScopes,
  type LabScope,
} from './lab-env.js';

const dirs = tempDirs('cli');
const DEMO = catalog.find((l) => l.id === '02-uts') ?? catalog[2];
const SOLUTION = catalog.find((l) => l.id === '02-uts') ?? catalog[2];
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

const scopes = labScopes(dirs);
const begin = scopes.begin;

afterEach(() => scopes.end());

afterAll(() => {
  dirs.removeAll();
});

describe('tslab lessons', () => {
  test('lists every lesson of lessons.json, in order, as new when there is no progress', async () => {
    const s = begin('lessons');
    const r = await runTslab(['lessons'], { env: { TSLAB_DATA_DIR: s.dataDir } });
    expect(r.code, describeResult(r)).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(catalog.length);
    catalog.forEach((lesson, i) => {
      expect(lines[i]).toContain(lesson.title);
      expect(lines[i]).toMatch(new RegExp(`^· new\\s+${lesson.number}\\s`));
      if (lesson.piece) expect(lines[i]).toContain(`sandbox/steps/${lesson.piece.file} (to write)`);
    });
    expect(fs.existsSync(path.join(s.dataDir, 'lab'))).toBe(false); // listing changes nothing
  });

  test('shows saved progress: a done lesson and the current cell of another', async () => {
    const s = begin('lessons-progress');
    fs.mkdirSync(path.join(s.dataDir, 'lab'), { recursive: true });
    const [done, current] = [catalog[0], catalog[1]];
    fs.writeFileSync(
      path.join(s.dataDir, 'lab', 'progress.json'),
      JSON.stringify({ current: current.id, lessons: { [done.id]: { done: true, cell: 0, hintsShown: 0 }, [current.id]: { done: false, cell: 2, hintsShown: 0 } } }),
    );
    const r = await runTslab(['lessons'], { env: { TSLAB_DATA_DIR: s.dataDir } });
    expect(r.code, describeResult(r)).toBe(0);
    const line = (l: typeof done) => r.stdout.split('\n').find((x) => x.includes(l.title)) ?? '';
    expect(line(done)).toMatch(/^✔ done/);
    expect(line(current)).toMatch(/^▶ cell 3/);
  });
});

describe('tslab solution', () => {
  test(`${SOLUTION.number} prints the reference source of its piece`, async () => {
    const r = await runTslab(['solution', String(SOLUTION.number)]);
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toContain(`sandbox/steps/${SOLUTION.piece!.file}`);
    // The import of the syscall layer is shown as the sandbox spells it, so the piece can be pasted in.
    const source = fs
      .readFileSync(path.join(REPO_ROOT, 'src/runtime/steps', SOLUTION.piece!.file), 'utf8')
      .replace("'../../linux/index.js'", "'../syscalls.js'");
    expect(r.stdout).toContain("from '../syscalls.js'");
    // Rendered as a code block: every line of the source is there (indented, maybe re-wrapped never).
    for (const line of source.split('\n').map((l) => l.trim()).filter(Boolean)) expect(r.stdout).toContain(line);
  });

  test('the capstone has no piece: a sentence says so', async () => {
    const capstone = catalog.find((l) => !l.piece)!;
    const r = await runTslab(['solution', capstone.id]);
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toMatch(/no piece to write/);
  });

  test('an unknown lesson is refused with the list of lessons, no stack trace', async () => {
    const r = await runTslab(['solution', '99']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no lesson "99"; the lessons are 0 \(/);
    expect(r.output).not.toMatch(STACK_FRAME);
  });
});

describe('tslab reset', () => {
  function leftOver(s: LabScope): { victim: string; progressFile: string } {
    const lab = path.join(s.dataDir, 'lab');
    const victim = path.join(s.dataDir, 'left-over-rootfs');
    fs.mkdirSync(path.join(victim, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(victim, 'bin', 'sh'), '');
    fs.mkdirSync(lab, { recursive: true });
    fs.writeFileSync(path.join(lab, 'journal.json'), JSON.stringify([{ kind: 'dir', path: victim }]));
    const progressFile = path.join(lab, 'progress.json');
    fs.writeFileSync(
      progressFile,
      JSON.stringify({
        current: catalog[2].id,
        lessons: { [catalog[1].id]: { done: true, cell: 0, hintsShown: 0 }, [catalog[2].id]: { done: false, cell: 3, hintsShown: 1 } },
      }),
    );
    return { victim, progressFile };
  }

  test('undoes a left-over journal (a directory entry) and keeps progress; --progress forgets it', async () => {
    const s = begin('reset');
    const { victim, progressFile } = leftOver(s);
    const saved = fs.readFileSync(progressFile, 'utf8');
    const r = await runTslab(['reset'], { env: { TSLAB_DATA_DIR: s.dataDir } });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toContain(`host changes undone: directory ${victim}`);
    expect(r.stdout).toContain('progress kept (`tslab reset --progress` forgets it)');
    expect(fs.existsSync(victim)).toBe(false);
    expect(fs.existsSync(path.join(s.dataDir, 'lab', 'journal.json'))).toBe(false);
    expect(fs.readFileSync(progressFile, 'utf8')).toBe(saved);

    // Again, asking for progress to go: nothing is left to undo, and it says so; the progress is gone.
    const again = await runTslab(['reset', '--progress'], { env: { TSLAB_DATA_DIR: s.dataDir } });
    expect(again.code, describeResult(again)).toBe(0);
    expect(again.stdout).toContain('none were left');
    expect(again.stdout).toContain('all progress forgotten');
    expect(fs.existsSync(progressFile)).toBe(false);
  });

  test('reset LESSON without --progress is refused (exit 2, nothing undone); with it, forgets that lesson only', async () => {
    const s = begin('reset-one');
    const { victim, progressFile } = leftOver(s);
    const refused = await runTslab(['reset', String(catalog[2].number)], { env: { TSLAB_DATA_DIR: s.dataDir } });
    expect(refused.code, describeResult(refused)).toBe(2);
    expect(refused.stderr).toContain(`tslab reset --progress ${catalog[2].number}`);
    expect(fs.existsSync(victim)).toBe(true);

    const r = await runTslab(['reset', '--progress', String(catalog[2].number)], { env: { TSLAB_DATA_DIR: s.dataDir } });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toContain(`progress of ${catalog[2].id} forgotten`);
    expect(fs.existsSync(victim)).toBe(false);
    const progress = JSON.parse(fs.readFileSync(progressFile, 'utf8'));
    expect(progress.lessons).toEqual({ [catalog[1].id]: { done: true, cell: 0, hintsShown: 0 } });
    expect(progress.current).toBeUndefined();
  });
});

/** The pid the lab lock file names: the tslab process holding the lock. */
function lockHolder(): number {
  const file = fs.existsSync('/run') ? '/run/tslab-lab.lock' : '/tmp/tslab-lab.lock';
  return Number(fs.readFileSync(file, 'utf8').trim().split(/\s+/)[0]);
}

describe('tslab reset after a crash', () => {
  /** A lesson whose starting container has cgroups, a veth and a rootfs copy (level 7), else the highest. */
  const CRASHED = [...catalog].reverse().find((l) => l.number >= 2 && l.number <= 8 && lessonExists(l));

  test.runIf(CRASHED)('tslab killed with SIGKILL while its container runs: `tslab reset` undoes every host change', { timeout: 120_000 }, async () => {
    const lesson = CRASHED!;
    const s = begin('crash');
    const containerFile = path.join(s.dataDir, 'lab', 'container.json');
    const running = runTslab(['start', lesson.id, '--yes', '--reference'], { env: { TSLAB_DATA_DIR: s.dataDir }, timeoutMs: 100_000 });
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(containerFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(fs.existsSync(containerFile), 'the lesson container started').toBe(true);
    const holder = lockHolder();
    await killStragglers(); // SIGKILL to tslab's process group: no cleanup can run
    const crashed = await running;
    expect(crashed.signal).toBe('SIGKILL');

    // The crash left the host changed, all of it in the journal.
    const container = JSON.parse(fs.readFileSync(containerFile, 'utf8')) as { pid: number; level: number; cgroupDirs: string[] };
    const journal = JSON.parse(fs.readFileSync(path.join(s.dataDir, 'lab', 'journal.json'), 'utf8')) as Array<{ kind: string }>;
    expect(journal.map((e) => e.kind)).toContain('process');
    expect(fs.existsSync(`/proc/${container.pid}`)).toBe(true);
    if (container.level >= 6) expect(journal.map((e) => e.kind)).toContain('veth');
    if (container.level >= 7) expect(container.cgroupDirs.every((d) => fs.existsSync(d))).toBe(true);

    const r = await runTslab(['reset'], { env: { TSLAB_DATA_DIR: s.dataDir } });
    expect(r.code, describeResult(r)).toBe(0);
    // The killed tslab's name is still in the lock file: its lock is taken over, and reset says so.
    expect(r.stdout).toContain(`the lab lock was left by tslab process ${holder}, which is no longer running`);
    expect(r.stdout).toContain(`process ${container.pid}`);
    expect(r.stdout).toContain('progress kept');
    for (const dir of container.cgroupDirs) expect(fs.existsSync(dir), dir).toBe(false);
    const left = await labLeftovers(s.dataDir, s.before, s.watcher.stop());
    expect(left, 'what reset left behind').toEqual([]);
  });

  test.runIf(CRASHED)('after a kill -9, `tslab start` says what the killed session left and undoes it before it begins', { timeout: 180_000 }, async () => {
    const lesson = CRASHED!;
    const first = catalog[0];
    const s = begin('crash-start');
    const containerFile = path.join(s.dataDir, 'lab', 'container.json');
    const running = runTslab(['start', lesson.id, '--yes', '--reference'], { env: { TSLAB_DATA_DIR: s.dataDir }, timeoutMs: 100_000 });
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(containerFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(fs.existsSync(containerFile), 'the lesson container started').toBe(true);
    const holder = lockHolder();
    await killStragglers();
    const crashed = await running;
    expect(crashed.signal).toBe('SIGKILL');
    const container = JSON.parse(fs.readFileSync(containerFile, 'utf8')) as { pid: number; level: number };
    expect(fs.existsSync(`/proc/${container.pid}`)).toBe(true);

    // Another lesson, headless: before its first cell, the left-overs are named and undone.
    const r = await runTslab(['start', first.id, '--yes', '--reference'], { env: { TSLAB_DATA_DIR: s.dataDir }, timeoutMs: 120_000 });
    const before = r.stdout.split(`Lesson ${first.number}: ${first.title}`)[0];
    expect(before, describeResult(r)).toContain(`the lab lock was left by tslab process ${holder}, which is no longer running`);
    expect(before).toContain(`An earlier lab session did not clean up (it was killed, it crashed, or its clean-up failed) and left the lesson container of ${lesson.id} (level ${container.level}, host pid ${container.pid})`);
    expect(before).toMatch(new RegExp(`undone: [^\\n]*process ${container.pid}`));
    const left = await labLeftovers(s.dataDir, s.before, s.watcher.stop());
    expect(left, 'what start left behind').toEqual([]);
  });
});

describe('refusals', () => {
  let build = '';
  beforeAll(() => {
    build = worldReadableBuild();
  });
  afterAll(() => fs.rmSync(build, { recursive: true, force: true }));

  test.each([['start', '--yes'], ['check', '2'], ['reset'], ['demo', '2', '--auto', '0'], ['shell'], ['run', 'true']])(
    'not root: `tslab %s` exits non-zero with a sentence about root, no stack trace',
    async (...args: string[]) => {
      const s = begin('nobody');
      fs.chmodSync(path.dirname(s.dataDir), 0o755);
      const r = await runTslab(args, { wrapper: AS_NOBODY, tslab: path.join(build, 'bin', 'tslab.cjs'), env: { TSLAB_DATA_DIR: s.dataDir } });
      expect(r.code, describeResult(r)).not.toBe(0);
      expect(r.code).not.toBeNull();
      expect(r.stderr).toMatch(/only root may do\. Run it as root \(sudo tslab /);
      expect(r.output).not.toMatch(STACK_FRAME);
      expect(fs.existsSync(path.join(s.dataDir, 'lab'))).toBe(false);
    },
  );

  test('while another process holds the lab lock, `tslab reset` refuses and names that process (found in /proc/locks)', async () => {
    const s = begin('busy');
    const file = fs.existsSync('/run') ? '/run/tslab-lab.lock' : '/tmp/tslab-lab.lock';
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    try {
      flock(fd, LOCK_EX, file); // waits if a lab run of another test file holds it
      const r = await runTslab(['reset'], { env: { TSLAB_DATA_DIR: s.dataDir } });
      expect(r.code, describeResult(r)).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`another lab session holds the lab lock ${file} \\((tslab )?process ${process.pid}\\b`));
      expect(r.output).not.toMatch(STACK_FRAME);
    } finally {
      fs.closeSync(fd);
    }
  });

  test('`tslab start` without a terminal and without --yes exits 2 and points to --yes', async () => {
    const s = begin('no-tty');
    const r = await runTslab(['start'], { env: { TSLAB_DATA_DIR: s.dataDir } });
    expect(r.code, describeResult(r)).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
    expect(r.stderr).toMatch(/terminal/);
    expect(r.output).not.toMatch(STACK_FRAME);
    expect(fs.existsSync(path.join(s.dataDir, 'lab'))).toBe(false);
  });

  test('usage errors exit 2: check without a lesson, an unknown command', async () => {
    const check = await runTslab(['check']);
    expect(check.code, describeResult(check)).toBe(2);
    expect(check.stderr).toMatch(/check needs a lesson/);
    const unknown = await runTslab(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
  });
});

describe('tslab demo', () => {
  test(`demo ${DEMO.id} --auto 0 runs every cell without input, exits 0 and leaves nothing`, { timeout: 180_000 }, async () => {
    expect(lessonExists(DEMO), `lessons/${DEMO.file} is not written yet`).toBe(true);
    const s = begin('demo');
    const cells = lessonCells(DEMO);
    const r = await runTslab(['demo', DEMO.id, '--auto', '0'], { env: { TSLAB_DATA_DIR: s.dataDir }, timeoutMs: 150_000 });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toContain(`Demo — lesson ${DEMO.number}: ${DEMO.title}`);
    for (let i = 0; i < cells.length; i++) expect(r.stdout).toContain(`cell ${i + 1}/${cells.length}:`);
    expect(r.stdout).not.toMatch(/✘/);
    expect(r.stdout).toMatch(/Demo over; cleaned up: /);
    expect(fs.existsSync(path.join(s.dataDir, 'lab', 'progress.json'))).toBe(false); // a demo is not the learner's progress
    const left = await labLeftovers(s.dataDir, s.before, s.watcher.stop());
    expect(left, 'what the demo left behind').toEqual([]);
  });
});

describe('the capstone shows its progress', () => {
  const capstone = catalog.find((l) => !l.piece && l.number > 0);
  test.runIf(capstone)('`check` of the capstone prints a line per finished test file and a summary per lesson piece before its verdict', { timeout: 400_000 }, async () => {
    const s = begin('capstone-progress');
    const r = await runTslab(['check', capstone!.id, '--reference'], {
      env: { TSLAB_DATA_DIR: s.dataDir, TSLAB_CAPSTONE_FILES: 'test/lifecycle/cli.test.ts' },
      timeoutMs: 380_000,
    });
    // Whether the run passes depends also on what else runs on this machine (the suite's leak check sees
    // the whole host); the progress must be there either way.
    const out = r.stdout;
    const header = out.indexOf('the lifecycle suite against your runtime, file by file');
    const file = out.search(/\[1\/1\] [✔✘] cli\.test\.ts: (\d+ passed|\d+ of \d+ failed), \d+ s\n/);
    const summary = out.search(/every test passed: no lesson piece is at fault|by lesson piece:/);
    const verdict = out.indexOf('the lifecycle suite passes against your runtime');
    expect(header, describeResult(r)).toBeGreaterThan(-1);
    expect(file, describeResult(r)).toBeGreaterThan(header);
    expect(summary, describeResult(r)).toBeGreaterThan(file);
    expect(verdict, describeResult(r)).toBeGreaterThan(summary);
  });
});

describe('tslab run --mine: containers with the learner\'s runtime', () => {
  test('the untouched starter sandbox says which piece is not written yet, and leaves no container', { timeout: 120_000 }, async () => {
    const s = begin('run-mine');
    const sandbox = copyStarterSandbox(dirs.make('run-mine-sandbox'));
    const env = { TSLAB_DATA_DIR: s.dataDir, TSLAB_SANDBOX: sandbox };
    const r = await runTslab(['run', '--rm', '--mine', 'busybox', 'echo', 'hi'], { env, timeoutMs: 100_000 });
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.output).toMatch(/is not written yet \(lesson \d+\)/);
    expect(r.stdout.split('\n')).not.toContain('hi');
    const ps = await runTslab(['--json', 'ps', '-a'], { env });
    expect(JSON.parse(ps.stdout)).toEqual([]);
  });

  test('a sandbox with every piece written (the reference pieces copied in) runs the container', { timeout: 120_000 }, async () => {
    const s = begin('run-solved');
    const sandbox = copyStarterSandbox(dirs.make('run-solved-sandbox'));
    for (const file of fs.readdirSync(path.join(REPO_ROOT, 'src/runtime/steps'))) {
      const source = fs.readFileSync(path.join(REPO_ROOT, 'src/runtime/steps', file), 'utf8').replace("'../../linux/index.js'", "'../syscalls.js'");
      fs.writeFileSync(path.join(sandbox, 'steps', file), source);
    }
    const r = await runTslab(['run', '--rm', '--mine', 'busybox', 'sh', '-c', 'echo hi; exit 7'], {
      env: { TSLAB_DATA_DIR: s.dataDir, TSLAB_SANDBOX: sandbox },
      timeoutMs: 100_000,
    });
    expect(r.code, describeResult(r)).toBe(7);
    expect(r.stdout.split('\n')).toContain('hi');
  });
});
