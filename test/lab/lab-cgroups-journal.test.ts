// The lesson container's cgroups are journalled before they are made (src/lab/lesson-container.ts prepareCgroups):
// a lab killed between the mkdirs and the journal write must not leave cgroups `tslab reset` cannot find.
// The lab makes the parents; the learner's piece (here the reference createCgroup) makes the lesson cgroups.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import type { JournalEntry } from '../../src/lab/journal.js';

/** For each cgroups entry recorded: the directories it names that existed at the moment it was written. */
const existingAtRecord: string[][] = [];

vi.mock('../../src/lab/journal.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/lab/journal.js')>();
  return {
    ...real,
    record: (entry: JournalEntry) => {
      if (entry.kind === 'cgroups') existingAtRecord.push(entry.saved.created.filter((d) => fs.existsSync(d)));
      real.record(entry);
    },
  };
});

const { prepareCgroups } = await import('../../src/lab/lesson-container.js');
const { createCgroup } = await import('../../src/runtime/steps/cgroup-join.js');
const journal = await import('../../src/lab/journal.js');

const dataDirBefore = process.env.TSLAB_DATA_DIR;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-lab-cgroups-'));

beforeAll(() => {
  process.env.TSLAB_DATA_DIR = dataDir;
});

afterAll(() => {
  journal.undo();
  if (dataDirBefore === undefined) delete process.env.TSLAB_DATA_DIR;
  else process.env.TSLAB_DATA_DIR = dataDirBefore;
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('lesson cgroups and the lab journal', () => {
  test('the journal names every cgroup directory before it exists, and undo removes them all', () => {
    const id = `lesson-journal-${process.pid}`;
    const { parents, dirs } = prepareCgroups(id);
    expect(dirs.length).toBeGreaterThan(0);
    expect(dirs.map((d) => path.dirname(d)).sort()).toEqual([...parents].sort());
    for (const dir of parents) expect(fs.existsSync(dir)).toBe(true);
    for (const dir of dirs) expect(fs.existsSync(dir)).toBe(false);
    for (const parent of parents) createCgroup(parent, id);

    expect(existingAtRecord).toHaveLength(1);
    expect(existingAtRecord[0]).toEqual([]); // written before any mkdir
    const entries = journal.pending().filter((e) => e.kind === 'cgroups');
    expect(entries).toHaveLength(1);
    const created = entries[0].kind === 'cgroups' ? entries[0].saved.created : [];
    for (const dir of [...parents, ...dirs]) expect(created).toContain(dir);

    journal.undo();
    for (const dir of [...parents, ...dirs]) expect(fs.existsSync(dir)).toBe(false);
    expect(journal.pending()).toEqual([]);
  });
});
