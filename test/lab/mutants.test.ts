// The mutation suite of the lab's checks: for every lesson, typical wrong pieces (test/lab/mutants/) must
// FAIL the lesson's check with a message that points at the mistake, and the reference piece must pass the
// same check, so each test can fail both ways. A run is what `tslab check N` does with the learner's sandbox
// (the lesson's last enable cell, then its check), in this process: one session per mutant, or one lesson
// container for all when the piece does not build it (lesson 1). The lab's machine-wide lock is held
// throughout, and the host is checked for leftovers after every run.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadLesson, type LessonInfo } from '../../src/lab/catalog.js';
import type { CheckResult } from '../../src/lab/checks/types.js';
import { LabSession } from '../../src/lab/session.js';
import { buildWithSteps } from '../../src/lab/step-build.js';
import { LOCK_EX, LOCK_NB, flock } from '../../src/linux/fs.js';
import { REPO_ROOT, catalog, copyStarterSandbox, labLeftovers, snapshotLabHost, tempDirs } from './lab-env.js';
import { MUTANTS } from './mutants/index.js';
import { asSandboxPiece, mutate, referenceSource, type LessonMutants, type Mutant } from './mutants/mutant.js';

const LAB_LOCK = fs.existsSync('/run') ? '/run/tslab-lab.lock' : '/tmp/tslab-lab.lock';
const dirs = tempDirs('mutants');
let lockFd: number | undefined;
let dataDir = '';
const savedEnv = { ...process.env };
/** Step builds this file made (dist/mine/<key>), removed at the end unless they were there before. */
const builds = new Set<string>();
let buildsBefore = new Set<string>();

const mineDir = () => path.join(REPO_ROOT, 'dist', 'mine');

/** Waits for the lab lock (another lab run may hold it for a while). */
async function takeLabLock(): Promise<number> {
  const fd = fs.openSync(LAB_LOCK, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  for (const deadline = Date.now() + 540_000; ; ) {
    try {
      flock(fd, LOCK_EX | LOCK_NB, LAB_LOCK);
      return fd;
    } catch (err) {
      if (Date.now() > deadline) {
        fs.closeSync(fd);
        throw err;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

beforeAll(async () => {
  lockFd = await takeLabLock();
  dataDir = dirs.make('data');
  process.env.TSLAB_DATA_DIR = dataDir;
  buildsBefore = new Set(fs.existsSync(mineDir()) ? fs.readdirSync(mineDir()) : []);
}, 600_000);

afterAll(() => {
  for (const key of ['TSLAB_DATA_DIR', 'TSLAB_SANDBOX', 'TSLAB_CAPSTONE_FILES']) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
  for (const dir of builds) if (!buildsBefore.has(path.basename(dir))) fs.rmSync(dir, { recursive: true, force: true });
  if (lockFd !== undefined) fs.closeSync(lockFd);
  dirs.removeAll();
});

/** A sandbox holding every reference piece, with `mutant` (if any) in place of its piece. */
function sandboxWith(label: string, file: string | undefined, mutant?: Mutant): string {
  const sandbox = copyStarterSandbox(dirs.make(label));
  for (const l of catalog) {
    if (l.piece) fs.writeFileSync(path.join(sandbox, 'steps', l.piece.file), asSandboxPiece(referenceSource(l.piece.file)));
  }
  if (mutant && file) fs.writeFileSync(path.join(sandbox, 'steps', file), mutate(mutant, file));
  return sandbox;
}

interface Outcome {
  passed: boolean;
  /** What a learner reads: the enable cell's error, or the failing checks (name, saw, expected, hint). */
  message: string;
}

function describeFailures(results: CheckResult[]): string {
  return results
    .filter((r) => !r.ok)
    .map((r) => `✘ ${r.name}\nsaw: ${r.saw ?? ''}\nexpected: ${r.expected ?? ''}\nhint: ${r.hint ?? ''}`)
    .join('\n');
}

function stepsOf(info: LessonInfo): string[] {
  return info.piece ? [info.piece.file] : catalog.flatMap((l) => (l.piece ? [l.piece.file] : []));
}

/** The lesson's last enable cell (the one `tslab check` runs), if it has one. */
function enableCell(info: LessonInfo) {
  return loadLesson(info).doc.segments.flatMap((s) => (s.type === 'cell' && s.cell.kind === 'enable' ? [s.cell] : [])).pop();
}

/** One lesson's runs: a session per run, or one shared session whose container is started once. */
class LessonRunner {
  private shared: LabSession | undefined;
  private readonly before = snapshotLabHost();

  constructor(
    private readonly info: LessonInfo,
    private readonly group: LessonMutants,
  ) {}

  private newSession(): LabSession {
    return new LabSession(catalog, 'mine', { lessons: {} });
  }

  /** Runs the lesson's enable cell then its check with `sandbox` as the learner's; returns what the learner would see. */
  async run(sandbox: string, capstoneFiles?: string): Promise<Outcome> {
    process.env.TSLAB_SANDBOX = sandbox;
    if (capstoneFiles) process.env.TSLAB_CAPSTONE_FILES = capstoneFiles;
    else delete process.env.TSLAB_CAPSTONE_FILES;
    const cell = enableCell(this.info);
    let session: LabSession;
    if (this.group.shareContainer && this.shared) {
      session = this.shared;
    } else {
      session = this.newSession();
      if (cell) {
        const enabled = await session.enable(this.info, cell);
        if (!enabled.ok) {
          session.close();
          return { passed: false, message: `enable cell: ${enabled.error}` };
        }
      }
      if (this.group.shareContainer) this.shared = session;
    }
    try {
      const results = await session.check(this.info);
      return { passed: results.length > 0 && results.every((r) => r.ok), message: describeFailures(results) };
    } finally {
      builds.add((await buildWithSteps(stepsOf(this.info))).dir);
      if (session !== this.shared) await this.close(session);
    }
  }

  private async close(session: LabSession): Promise<void> {
    session.close();
    const left = await labLeftovers(dataDir, this.before);
    // The checks' scratch dirs name their owner: this process.
    const scratch = fs
      .readdirSync(os.tmpdir())
      .filter((n) => n.startsWith('tslab-check') && fs.existsSync(path.join(os.tmpdir(), n, 'owner')) && fs.readFileSync(path.join(os.tmpdir(), n, 'owner'), 'utf8') === String(process.pid));
    expect([...left, ...scratch.map((n) => `${os.tmpdir()}/${n}`)], 'what the run left behind').toEqual([]);
  }

  async end(): Promise<void> {
    if (this.shared) await this.close(this.shared);
    this.shared = undefined;
  }
}

describe.each(MUTANTS.map((group) => [group.lesson, group] as const))('lesson %s', (id, group) => {
  const info = catalog.find((l) => l.id === id)!;
  const runner = new LessonRunner(info, group);
  const timeout = info.piece ? 90_000 : 400_000;

  afterAll(() => runner.end());

  test('its mutants are typical mistakes: at least three, each applying to the reference', () => {
    expect(group.mutants.length).toBeGreaterThanOrEqual(3);
    for (const m of group.mutants) expect(() => mutate(m, m.file ?? info.piece!.file)).not.toThrow();
  });

  test('the reference piece passes the check', { timeout }, async () => {
    const files = group.mutants.find((m) => m.capstoneFiles)?.capstoneFiles;
    const outcome = await runner.run(sandboxWith(`reference-${id}`, undefined), files);
    expect(outcome.passed, outcome.message).toBe(true);
  });

  test.each(group.mutants.map((m) => [m.name, m] as const))('mutant "%s" fails the check, saying why', { timeout }, async (_name, mutant) => {
    const file = mutant.file ?? info.piece!.file;
    const outcome = await runner.run(sandboxWith(`mutant-${id}`, file, mutant), mutant.capstoneFiles);
    expect(outcome.passed, 'the check passed the wrong piece').toBe(false);
    expect(outcome.message).toMatch(mutant.caught);
  });
});
