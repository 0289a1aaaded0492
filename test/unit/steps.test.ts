// The kernel steps (src/runtime/steps/): their pure parts, and the contract that lets the lab swap each
// reference step for the learner's sandbox/steps/<same file>. The steps that change kernel state are tried
// in child processes by test/kernel/steps.test.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { SyscallError } from '../../src/linux/error.js';
import { exitStatus } from '../../src/runtime/steps/exit-status.js';
import { setHostname } from '../../src/runtime/steps/hostname.js';
import { bringUpInterface } from '../../src/runtime/steps/loopback.js';
import { applyWhiteout, mountOverlay } from '../../src/runtime/steps/overlay.js';
import { filesystemSupported } from '../../src/runtime/steps/preflight.js';
import { NotWrittenYet } from '../../sandbox/lab-support.js';
import { loadCatalog } from '../../src/lab/catalog.js';
import { REPO_ROOT } from '../helpers/runtime.js';
import { pieceContract } from './lesson-contract.js';

const STEPS_DIR = path.join(REPO_ROOT, 'src/runtime/steps');
const SANDBOX_STEPS_DIR = path.join(REPO_ROOT, 'sandbox/steps');

/** The contract, from lessons/lessons.json: file -> exported functions (and the lesson that writes them). */
const CONTRACT = pieceContract(loadCatalog(path.join(REPO_ROOT, 'lessons')));

/** Every .ts file under `dir`, recursively. */
function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(file);
    return e.name.endsWith('.ts') ? [file] : [];
  });
}

/** The import declarations of a source file: specifier and the names imported. */
function imports(file: string): Array<{ from: string; names: string[]; typeOnly: boolean }> {
  const text = fs.readFileSync(file, 'utf8');
  const found: Array<{ from: string; names: string[]; typeOnly: boolean }> = [];
  for (const m of text.matchAll(/^import\s+(type\s+)?([\s\S]*?)\s+from\s+'([^']+)';/gm)) {
    const clause = m[2]!;
    const braces = /\{([\s\S]*)\}/.exec(clause);
    const names = braces
      ? braces[1]!.split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!).filter(Boolean)
      : [clause.trim()];
    found.push({ from: m[3]!, names, typeOnly: Boolean(m[1]) });
  }
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) found.push({ from: m[1]!, names: ['*dynamic*'], typeOnly: false });
  return found;
}

describe('exitStatus', () => {
  test('an exit code is the status', () => {
    expect(exitStatus(0, null)).toBe(0);
    expect(exitStatus(3, null)).toBe(3);
    expect(exitStatus(255, null)).toBe(255);
  });

  test('a death by signal N is 128 + N', () => {
    expect(exitStatus(null, 'SIGKILL')).toBe(137);
    expect(exitStatus(null, 'SIGTERM')).toBe(143);
    expect(exitStatus(null, 'SIGINT')).toBe(130);
  });
});

describe('filesystemSupported', () => {
  const lines = fs.readFileSync('/proc/filesystems', 'utf8').split('\n').filter((l) => l.trim() !== '');

  test('finds every type /proc/filesystems lists, nodev or not', () => {
    expect(filesystemSupported('proc')).toBe(true);
    for (const line of lines) expect(filesystemSupported(line.split('\t').at(-1)!), line).toBe(true);
  });

  test('does not take the "nodev" column, a part of a name or an unknown type for a filesystem', () => {
    expect(filesystemSupported('nodev')).toBe(false);
    expect(filesystemSupported('pro')).toBe(false);
    expect(filesystemSupported('')).toBe(false);
    expect(filesystemSupported('tslab-no-such-fs')).toBe(false);
  });
});

describe('argument checks made before the kernel is asked', () => {
  test('setHostname refuses more than 64 bytes, counting bytes and not characters', () => {
    let caught: unknown;
    try {
      setHostname('é'.repeat(33)); // 33 characters, 66 bytes
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SyscallError);
    expect((caught as SyscallError).code).toBe('EINVAL');
    expect((caught as SyscallError).message).toMatch(/^sethostname é+: EINVAL — a hostname holds at most 64 bytes, this one has 66$/);
  });

  test('bringUpInterface refuses a name that does not fit struct ifreq', () => {
    expect(() => bringUpInterface('a-name-far-too-long')).toThrow(
      'ioctl(SIOCGIFFLAGS) a-name-far-too-long: EINVAL — an interface name holds 1 to 15 bytes and no NUL',
    );
  });

  test('applyWhiteout makes nothing for a marker that is not one plain name of its directory (it comes from a tar)', () => {
    for (const marker of ['motd', '.wh.', '.wh..', '.wh...', '.wh.a/b', '.wh.../etc']) {
      expect(() => applyWhiteout('/nonexistent-layer', marker), marker).toThrow(/^mknod \/nonexistent-layer\/.*: EINVAL — .* is not a whiteout of one file/);
    }
  });

  test('mountOverlay refuses no lower dir, and options longer than the page mount(2) copies', () => {
    expect(() => mountOverlay([], '/u', '/w', '/t')).toThrow('mount /t: EINVAL — an overlay needs at least one lower directory');
    const layers = Array.from({ length: 100 }, (_, i) => `/var/lib/tslab/layers/${'0'.repeat(30)}${i}`);
    expect(() => mountOverlay(layers, '/u', '/w', '/t')).toThrow("mount /t: EINVAL — 100 layers make the overlay's options longer than a page (4096 bytes)");
  });
});

describe('NotWrittenYet', () => {
  test('says which function, file and lesson, with a hint', () => {
    const err = new NotWrittenYet(2, 'setHostname', 'hostname.ts', 'call sethostname(name)');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('NotWrittenYet');
    expect(err.message).toBe('setHostname() in sandbox/steps/hostname.ts is not written yet (lesson 2). Hint: call sethostname(name)');
    expect({ lesson: err.lesson, fn: err.fn, file: err.file }).toEqual({ lesson: 2, fn: 'setHostname', file: 'hostname.ts' });
  });
});

describe('the steps contract', () => {
  test('the reference steps and the sandbox starters are the same files', () => {
    const names = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.ts')).sort();
    expect(names(STEPS_DIR)).toEqual(Object.keys(CONTRACT).sort());
    expect(names(SANDBOX_STEPS_DIR)).toEqual(Object.keys(CONTRACT).sort());
  });

  test.each(Object.keys(CONTRACT))('%s: reference and starter export exactly the contract\'s functions', async (file) => {
    const base = file.replace(/\.ts$/, '.js');
    const reference = await import(path.join(STEPS_DIR, base));
    const starter = await import(path.join(SANDBOX_STEPS_DIR, base));
    const { functions } = CONTRACT[file]!;
    expect(Object.keys(reference).sort()).toEqual([...functions].sort());
    expect(Object.keys(starter).sort()).toEqual([...functions].sort());
    for (const fn of functions) {
      expect(typeof reference[fn], fn).toBe('function');
      expect(starter[fn].length, `${fn}: number of parameters`).toBe(reference[fn].length);
    }
  });

  test.each(Object.keys(CONTRACT))('%s: each starter function throws NotWrittenYet naming itself and its lesson', async (file) => {
    const starter = await import(path.join(SANDBOX_STEPS_DIR, file.replace(/\.ts$/, '.js')));
    const { lesson, functions } = CONTRACT[file]!;
    const source = fs.readFileSync(path.join(SANDBOX_STEPS_DIR, file), 'utf8');
    expect(source).toContain(`// LESSON ${lesson} — `);
    expect(source).toContain(`// TODO(lesson ${lesson}): `);
    for (const fn of functions) {
      let caught: unknown;
      try {
        // Arguments of the right shape; a starter throws before it looks at them.
        starter[fn]('x', () => true);
      } catch (err) {
        caught = err;
      }
      expect(caught, fn).toBeInstanceOf(NotWrittenYet);
      expect(caught).toMatchObject({ lesson, fn, file });
    }
  });

  test('the reference steps take their system calls only from the syscall barrel, and no step imports another', () => {
    for (const file of sourceFiles(STEPS_DIR)) {
      for (const { from } of imports(file)) {
        expect(from.startsWith('node:') || from === '../../linux/index.js', `${path.basename(file)} imports ${from}`).toBe(true);
      }
    }
  });

  test('the starters import only node:, ../syscalls.js and ../lab-support.js', () => {
    for (const file of sourceFiles(SANDBOX_STEPS_DIR)) {
      for (const { from } of imports(file)) {
        expect(from.startsWith('node:') || from === '../syscalls.js' || from === '../lab-support.js', `${path.basename(file)} imports ${from}`).toBe(true);
      }
    }
  });

  test('the rest of src/ imports only the contract\'s functions from the step files, each file directly', () => {
    let uses = 0;
    for (const file of sourceFiles(path.join(REPO_ROOT, 'src'))) {
      if (path.dirname(file) === STEPS_DIR) continue;
      for (const { from, names } of imports(file)) {
        if (!/(^|\/)steps(\/|$)/.test(from)) continue;
        const resolved = path.resolve(path.dirname(file), from);
        expect(path.dirname(resolved), `${file} imports ${from}`).toBe(STEPS_DIR);
        const contract = CONTRACT[path.basename(resolved).replace(/\.js$/, '.ts')];
        expect(contract, `${file} imports ${from}: not a step file`).toBeDefined();
        // A namespace import (`* as step`) holds only what the file exports: the test above pins that.
        for (const name of names.filter((n) => !n.startsWith('* as '))) {
          expect(contract!.functions, `${file} imports ${name} from ${from}`).toContain(name);
        }
        uses++;
      }
    }
    expect(uses).toBeGreaterThan(0);
  });
});
