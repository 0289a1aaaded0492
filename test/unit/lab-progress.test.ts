// The learner's progress (src/lab/progress.ts), kept under $TSLAB_DATA_DIR/lab/progress.json.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { labStateDir } from '../../src/lab/paths.js';
import { lessonProgress, loadProgress, resetProgress, saveProgress } from '../../src/lab/progress.js';

let dataDir = '';
const envBefore = { TSLAB_DATA_DIR: process.env.TSLAB_DATA_DIR, XDG_DATA_HOME: process.env.XDG_DATA_HOME };

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-progress-'));
  process.env.TSLAB_DATA_DIR = dataDir;
});

afterEach(() => {
  for (const [key, value] of Object.entries(envBefore)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const progressFile = () => path.join(dataDir, 'lab', 'progress.json');

describe('where the lab keeps its state', () => {
  test('$TSLAB_DATA_DIR/lab, else $XDG_DATA_HOME/tslab/lab, else ~/.local/share/tslab/lab', () => {
    expect(labStateDir()).toBe(path.join(dataDir, 'lab'));
    delete process.env.TSLAB_DATA_DIR;
    process.env.XDG_DATA_HOME = '/some/xdg';
    expect(labStateDir()).toBe('/some/xdg/tslab/lab');
    delete process.env.XDG_DATA_HOME;
    expect(labStateDir()).toBe(path.join(os.homedir(), '.local', 'share', 'tslab', 'lab'));
  });
});

describe('progress', () => {
  test('nothing saved: no lessons, no current one, and loading creates no file', () => {
    expect(loadProgress()).toEqual({ current: undefined, lessons: {} });
    expect(fs.existsSync(path.join(dataDir, 'lab'))).toBe(false);
  });

  test('save then load gives the same progress, in $TSLAB_DATA_DIR/lab/progress.json', () => {
    const progress = loadProgress();
    const p = lessonProgress(progress, '02-uts');
    expect(p).toEqual({ done: false, cell: 0, hintsShown: 0 });
    p.cell = 3;
    p.hintsShown = 1;
    lessonProgress(progress, '01-process').done = true;
    progress.current = '02-uts';
    saveProgress(progress);

    expect(fs.existsSync(progressFile())).toBe(true);
    expect(fs.existsSync(`${progressFile()}.tmp`)).toBe(false); // written through a rename
    expect(loadProgress()).toEqual({
      current: '02-uts',
      lessons: {
        '02-uts': { done: false, cell: 3, hintsShown: 1 },
        '01-process': { done: true, cell: 0, hintsShown: 0 },
      },
    });
  });

  test('lessonProgress returns the saved entry itself, so changes to it are saved', () => {
    const progress = loadProgress();
    lessonProgress(progress, '03-pid').cell = 2;
    expect(lessonProgress(progress, '03-pid').cell).toBe(2);
    saveProgress(progress);
    expect(loadProgress().lessons['03-pid'].cell).toBe(2);
  });

  test('a damaged progress file reads as no progress', () => {
    fs.mkdirSync(path.join(dataDir, 'lab'), { recursive: true });
    fs.writeFileSync(progressFile(), '{ not json');
    expect(loadProgress()).toEqual({ lessons: {} });
    fs.writeFileSync(progressFile(), '{"current":"01-process"}');
    expect(loadProgress()).toEqual({ current: '01-process', lessons: {} });
  });

  test('resetProgress(id) forgets that lesson (and it as the current one) and keeps the others', () => {
    const progress = loadProgress();
    lessonProgress(progress, '01-process').done = true;
    lessonProgress(progress, '02-uts').cell = 4;
    progress.current = '02-uts';
    saveProgress(progress);

    resetProgress('02-uts');
    expect(loadProgress()).toEqual({ current: undefined, lessons: { '01-process': { done: true, cell: 0, hintsShown: 0 } } });

    // Resetting a lesson that is not the current one keeps the current one.
    const again = loadProgress();
    lessonProgress(again, '02-uts').cell = 1;
    again.current = '02-uts';
    saveProgress(again);
    resetProgress('01-process');
    expect(loadProgress()).toEqual({ current: '02-uts', lessons: { '02-uts': { done: false, cell: 1, hintsShown: 0 } } });
  });

  test('resetProgress() forgets everything: the file is gone', () => {
    const progress = loadProgress();
    lessonProgress(progress, '01-process').done = true;
    saveProgress(progress);
    resetProgress();
    expect(fs.existsSync(progressFile())).toBe(false);
    expect(loadProgress()).toEqual({ current: undefined, lessons: {} });
    resetProgress(); // nothing to forget: no error
  });
});
