// Every lesson of lessons/lessons.json, end to end through the CLI as root:
//   (a) with the reference steps, `tslab start <id> --yes --reference` runs every cell and passes the checks;
//   (b) against the untouched starter sandbox, `tslab check <id>` fails (exit 1) and says what to write.
// After each run the lab must have undone everything: no journal, no veth, no cgroups, no lesson container
// (nor anything such a container started), no rootfs copy, no mounts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { LessonInfo } from '../../src/lab/catalog.js';
import {
  catalog,
  copyStarterSandbox,
  describeResult,
  labLeftovers,
  lessonExists,
  runTslab,
  tempDirs,
  labScopes,
  type LabScope,
} from './lab-env.js';

const dirs = tempDirs('lessons');
let starterSandbox = '';

/** The capstone runs the lifecycle suite against a runtime: give it minutes. */
const timeoutFor = (info: LessonInfo) => (info.piece ? 180_000 : 480_000);

const scopes = labScopes(dirs);
const begin = scopes.begin;

/** Asserts that the lab left nothing behind (and cleans up if it did, so the next test starts clean). */
async function expectNothingLeft(s: LabScope): Promise<void> {
  const containers = s.watcher.stop();
  const left = await labLeftovers(s.dataDir, s.before, containers);
  expect(left, 'what the lab left behind').toEqual([]);
  expect(fs.existsSync(path.join(s.dataDir, 'lab', 'journal.json'))).toBe(false);
}

beforeAll(() => {
  starterSandbox = copyStarterSandbox(dirs.make('starter'));
});

afterEach(() => scopes.end());

afterAll(() => {
  dirs.removeAll();
});

describe.each(catalog.map((l) => [l.id, l] as [string, LessonInfo]))('lesson %s', (id, info) => {
  test('with the reference steps, `start --yes --reference` runs every cell and passes', { timeout: timeoutFor(info) + 30_000 }, async () => {
    expect(lessonExists(info), `lessons/${info.file} is not written yet`).toBe(true);
    const s = begin(`reference-${id}`);
    // The capstone's reference run takes one file of the lifecycle suite: the lifecycle:tslab project of this
    // same `npm test` runs every file against this very runtime (the reference steps are src/runtime/steps),
    // so here only the check's wiring is at stake (vitest on the built runtime, its report read): a short file
    // (6 tests, ~3 s; lifecycle.test.ts took ~35 s here). Saves CI ~3 min against the whole suite.
    const env = { TSLAB_DATA_DIR: s.dataDir, TSLAB_CAPSTONE_FILES: 'test/lifecycle/namespaces.test.ts' };
    const r = await runTslab(['start', id, '--yes', '--reference'], { env, timeoutMs: timeoutFor(info) });
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout).toContain(`Lesson ${info.number} complete`);
    expect(r.output).not.toMatch(/this is a bug in tslab/);
    // Headless progress: the lesson is done.
    const progress = JSON.parse(fs.readFileSync(path.join(s.dataDir, 'lab', 'progress.json'), 'utf8'));
    expect(progress.lessons[id]).toMatchObject({ done: true, cell: 0 });
    await expectNothingLeft(s);
  });

  test('against the untouched starter sandbox, `check` fails and says what to write', { timeout: timeoutFor(info) + 30_000 }, async () => {
    expect(lessonExists(info), `lessons/${info.file} is not written yet`).toBe(true);
    const s = begin(`starter-${id}`);
    const r = await runTslab(['check', id], {
      env: { TSLAB_DATA_DIR: s.dataDir, TSLAB_SANDBOX: starterSandbox },
      timeoutMs: timeoutFor(info),
    });
    expect(r.code, describeResult(r)).toBe(1);
    if (info.piece) {
      expect(r.output, describeResult(r)).toContain(`is not written yet (lesson ${info.number})`);
      expect(r.output).toContain(`sandbox/steps/${info.piece.file}`);
    } else {
      // The capstone has no piece: its check (src/lab/checks/l10-capstone.ts) first runs one container with
      // the runtime built from the whole sandbox; the starter cannot, and the message names the first piece.
      expect(r.output, describeResult(r)).toContain('✘ your runtime runs a first container');
      expect(r.output).toMatch(/is not written yet \(lesson \d+\)/);
    }
    expect(r.output).not.toMatch(/this is a bug in tslab/);
    expect(r.output, 'a stack trace').not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    await expectNothingLeft(s);
  });
});
