import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultSpec } from '../../src/runtime/spec/default-spec.js';
import { SpecError } from '../../src/runtime/spec/errors.js';
import { loadSpec, parseSpec, resolveRootfs } from '../../src/runtime/spec/load.js';
import type { Spec } from '../../src/runtime/spec/types.js';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-spec-load-')));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The default spec, changed by `edit`, as JSON text. */
function specText(edit: (c: any) => void = () => {}): string {
  const c: any = defaultSpec({ terminal: false });
  edit(c);
  return JSON.stringify(c, null, 2);
}

/** The SpecError parseSpec throws for `text`. */
function specError(text: string): SpecError {
  try {
    parseSpec(text);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return e as SpecError;
  }
  throw new Error('parseSpec did not throw');
}

const editError = (edit: (c: any) => void): SpecError => specError(specText(edit));

describe('parseSpec: valid configs', () => {
  it('reads the default spec', () => {
    const spec = parseSpec(specText());
    expect(spec).toEqual(defaultSpec({ terminal: false }));
  });

  it('accepts unknown fields and keeps them', () => {
    const spec = parseSpec(specText((c) => (c.vendorThing = { a: 1 }))) as Spec & { vendorThing?: unknown };
    expect(spec.vendorThing).toEqual({ a: 1 });
  });

  it('matches field names case-insensitively, like Go', () => {
    const spec = parseSpec(specText((c) => {
      c.Process = c.process;
      delete c.process;
      c.Process.ARGS = ['/bin/true'];
      delete c.Process.args;
    }));
    expect(spec.process?.args).toEqual(['/bin/true']);
    expect((spec as any).Process).toBeUndefined();
  });

  it('ignores what follows the first JSON value, like runc', () => {
    expect(parseSpec(`${specText()}\ngarbage }`).process?.args).toEqual(['sh']);
  });

  it('treats null as not set, and null list items as zero values', () => {
    const spec = parseSpec(specText((c) => {
      c.hostname = null;
      c.linux.seccomp = null;
      c.linux.maskedPaths = ['/proc/kcore', null];
      c.process.oomScoreAdj = null;
    }));
    expect(spec.hostname).toBeUndefined();
    expect(spec.linux?.seccomp).toBeUndefined();
    expect(spec.process?.oomScoreAdj).toBeUndefined();
    expect('oomScoreAdj' in (spec.process ?? {})).toBe(false);
    expect(spec.linux?.maskedPaths).toEqual(['/proc/kcore', '']);
    // "" is then refused as an environment entry, as runc would at start.
    expect(() => parseSpec(specText((c) => (c.process.env = [null])))).toThrow(/invalid environment variable/);
  });

  it('fills in a missing process.user as root, like Go zero values', () => {
    const spec = parseSpec(specText((c) => delete c.process.user));
    expect(spec.process?.user).toEqual({ uid: 0, gid: 0 });
  });

  it('accepts big rlimit values up to 2^64-1 (RLIM_INFINITY)', () => {
    const text = specText().replace('"hard": 1024', '"hard": 18446744073709551615');
    expect(parseSpec(text).process?.rlimits?.[0]?.hard).toBe(2 ** 64);
  });

  it('accepts ociVersion 1.x forms', () => {
    for (const v of ['1.0.0', '1.0.2-dev', '1.1.0-rc.1', '1.2.0', '1.0']) {
      expect(parseSpec(specText((c) => (c.ociVersion = v))).ociVersion).toBe(v);
    }
  });

  it('keeps annotation keys like __proto__ as plain keys', () => {
    const spec = parseSpec(specText().replace('"hostname"', '"annotations": {"__proto__": "x", "a": "b"}, "hostname"'));
    expect(Object.keys(spec.annotations!)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(spec.annotations)).toBe(Object.prototype);
  });
});

describe('parseSpec: unknown fields', () => {
  it('are kept and reported by their JSON path, at any depth', () => {
    const seen: string[] = [];
    const text = specText((c) => {
      c.tslabExtra = 1;
      c.process.colour = 'red';
      c.linux.resources.memory = { limit: 1024, bogus: true };
    });
    const spec = parseSpec(text, 'config.json', (field) => seen.push(field)) as Spec & { tslabExtra?: number };
    expect(seen.sort()).toEqual(['linux.resources.memory.bogus', 'process.colour', 'tslabExtra']);
    expect(spec.tslabExtra).toBe(1);
  });

  it('are not reported where the spec has a map (annotations, sysctl)', () => {
    const seen: string[] = [];
    parseSpec(specText((c) => (c.annotations = { 'org.example/anything': 'x' })), 'config.json', (f) => seen.push(f));
    expect(seen).toEqual([]);
  });
});

describe('parseSpec: malformed JSON', () => {
  it('reports line and column', () => {
    const e = specError('{\n  "ociVersion": "1.0.0",\n  x\n}');
    expect(e.line).toBe(3);
    expect(e.column).toBe(3);
    expect(e.message).toMatch(/^config\.json:3:3: this is not valid JSON: expected a field name/);
  });

  it('explains a trailing comma', () => {
    const e = specError('{\n"a": [1, 2,]\n}');
    expect(e.message).toMatch(/comma after the last item/);
    expect([e.line, e.column]).toEqual([2, 12]);
    expect(specError('{"a": 1,}').message).toMatch(/comma after the last field/);
  });

  it('explains comments, single quotes, a missing comma, a truncated file', () => {
    expect(specError('{ // hi\n}').message).toMatch(/does not allow comments/);
    expect(specError("{'a': 1}").message).toMatch(/double quotes/);
    expect(specError('{"a": 1\n "b": 2}').message).toMatch(/is a comma missing/);
    expect(specError('{"a": [1, 2').message).toMatch(/ends too early/);
  });

  it('refuses an empty file, a BOM and a non-object', () => {
    expect(specError('  \n').message).toMatch(/empty/);
    expect(specError(`\ufeff${specText()}`).message).toMatch(/byte order mark/);
    expect(specError('[1]').message).toMatch(/must hold one JSON object/);
  });

  it('refuses control characters and bad escapes in strings', () => {
    expect(specError('{"a": "x\ny"}').message).toMatch(/\\n/);
    expect(specError('{"a": "\\q"}').message).toMatch(/escape/);
  });
});

describe('parseSpec: wrong types name the JSON path', () => {
  const cases: [string, (c: any) => void, string, RegExp][] = [
    ['args item', (c) => (c.process.args = ['sh', 1]), 'process.args[1]', /process\.args\[1\] must be a string.*the number 1/],
    ['terminal', (c) => (c.process.terminal = 'yes'), 'process.terminal', /must be true or false, but it is the string "yes"/],
    ['negative uid', (c) => (c.process.user.uid = -1), 'process.user.uid', /whole number from 0 to 4294967295/],
    ['uid too big', (c) => (c.process.user.uid = 2 ** 32), 'process.user.uid', /whole number/],
    ['mounts not a list', (c) => (c.mounts = {}), 'mounts', /must be a list/],
    ['namespace type', (c) => (c.linux.namespaces[1].type = 5), 'linux.namespaces[1].type', /must be a string/],
    ['sysctl value', (c) => (c.linux.sysctl = { 'net.ipv4.ip_forward': 1 }), 'linux.sysctl["net.ipv4.ip_forward"]', /must be a string/],
    ['device type', (c) => (c.linux.devices = [{ path: '/dev/x', type: 'x', major: 1, minor: 3 }]), 'linux.devices[0].type', /one of "c", "b", "u", "p"/],
    ['rule allow', (c) => (c.linux.resources.devices[0].allow = 'no'), 'linux.resources.devices[0].allow', /true or false/],
    ['memory limit', (c) => (c.linux.resources.memory = { limit: '1G' }), 'linux.resources.memory.limit', /whole number/],
    ['hook timeout', (c) => (c.hooks = { prestart: [{ path: '/bin/true', timeout: 'x' }] }), 'hooks.prestart[0].timeout', /whole number/],
    ['process', (c) => (c.process = []), 'process', /must be an object/],
  ];
  for (const [name, edit, field, message] of cases) {
    it(name, () => {
      const e = editError(edit);
      expect(e.field).toBe(field);
      expect(e.path).toBe(field);
      expect(e.message).toMatch(message);
      expect(e.line).toBeGreaterThan(1);
    });
  }

  it('wants whole numbers written as whole numbers, like Go', () => {
    for (const raw of ['1.0', '1e0', '-0']) {
      const e = specError(specText().replace('"uid": 0', `"uid": ${raw}`));
      expect(e.field).toBe('process.user.uid');
      expect(e.message).toContain(`the number ${raw}`);
    }
    expect(specError(specText().replace('"hard": 1024', '"hard": 18446744073709551616')).field).toBe('process.rlimits[0].hard');
    // Signed fields take a minus sign.
    expect(parseSpec(specText((c) => (c.process.oomScoreAdj = -1000))).process?.oomScoreAdj).toBe(-1000);
  });
});

describe('parseSpec: required fields and values', () => {
  const cases: [string, (c: any) => void, string, RegExp][] = [
    ['no ociVersion', (c) => delete c.ociVersion, 'ociVersion', /ociVersion is missing/],
    ['ociVersion 2', (c) => (c.ociVersion = '2.0.0'), 'ociVersion', /"2\.0\.0" is not supported.*1\.x/],
    ['ociVersion junk', (c) => (c.ociVersion = 'banana'), 'ociVersion', /not supported/],
    ['no process', (c) => delete c.process, 'process', /process property must not be empty/],
    ['empty args', (c) => (c.process.args = []), 'process.args', /args must not be empty/],
    ['no args', (c) => delete c.process.args, 'process.args', /args must not be empty/],
    ['empty cwd', (c) => (c.process.cwd = ''), 'process.cwd', /Cwd property must not be empty/],
    ['relative cwd', (c) => (c.process.cwd = 'home'), 'process.cwd', /Cwd must be an absolute path/],
    ['no root', (c) => delete c.root, 'root', /root must be specified/],
    ['empty root.path', (c) => (c.root.path = ''), 'root.path', /root\.path must not be empty/],
    ['env without =', (c) => (c.process.env = ['FOO']), 'process.env[0]', /invalid environment variable: "FOO"/],
    ['env empty name', (c) => (c.process.env = ['=x']), 'process.env[0]', /name can't be empty/],
    ['NUL in args', (c) => (c.process.args = ['a\0b']), 'process.args[0]', /NUL/],
  ];
  for (const [name, edit, field, message] of cases) {
    it(name, () => {
      const e = editError(edit);
      expect(e.field).toBe(field);
      expect(e.message).toMatch(message);
    });
  }
});

describe('parseSpec: unsupported features', () => {
  it('refuses seccomp', () => {
    const e = editError((c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW' }));
    expect(e.field).toBe('linux.seccomp');
    expect(e.message).toMatch(/seccomp is not supported yet/);
  });

  it('refuses uid and gid mappings', () => {
    const m = [{ containerID: 0, hostID: 1000, size: 1 }];
    expect(editError((c) => (c.linux.uidMappings = m)).message).toMatch(/linux\.uidMappings is not supported yet/);
    expect(editError((c) => (c.linux.gidMappings = m)).field).toBe('linux.gidMappings');
    // An empty list maps nothing, as in runc.
    expect(parseSpec(specText((c) => (c.linux.uidMappings = []))).linux?.uidMappings).toEqual([]);
  });

  it('refuses a user namespace and a time namespace', () => {
    const user = editError((c) => c.linux.namespaces.push({ type: 'user' }));
    expect(user.field).toBe('linux.namespaces[5].type');
    expect(user.message).toMatch(/user namespace is not supported yet/);
    expect(editError((c) => c.linux.namespaces.push({ type: 'time' })).message).toMatch(/time namespace is not supported/);
  });
});

describe('parseSpec: linux and process checks', () => {
  it('refuses unknown and duplicate namespaces and relative namespace paths', () => {
    const unknown = editError((c) => c.linux.namespaces.push({ type: 'net' }));
    expect(unknown.field).toBe('linux.namespaces[5].type');
    expect(unknown.message).toMatch(/namespace "net" does not exist/);
    const dup = editError((c) => c.linux.namespaces.push({ type: 'pid' }));
    expect(dup.message).toMatch(/duplicated ns "pid"/);
    const rel = editError((c) => (c.linux.namespaces[1].path = 'proc/1/ns/net'));
    expect(rel.field).toBe('linux.namespaces[1].path');
    expect(rel.message).toMatch(/\/proc\/1234\/ns\/net/);
    expect(parseSpec(specText((c) => (c.linux.namespaces[1].path = '/proc/1/ns/net'))).linux?.namespaces?.[1]?.path).toBe('/proc/1/ns/net');
  });

  it('wants absolute mount destinations', () => {
    const e = editError((c) => (c.mounts[2].destination = 'dev/pts'));
    expect(e.field).toBe('mounts[2].destination');
    expect(e.message).toMatch(/absolute/);
  });

  it('knows rlimit names, refuses duplicates and soft > hard', () => {
    const unknown = editError((c) => (c.process.rlimits[0].type = 'RLIMIT_FILES'));
    expect(unknown.field).toBe('process.rlimits[0].type');
    expect(unknown.message).toMatch(/wrong rlimit value: RLIMIT_FILES/);
    expect(editError((c) => (c.process.rlimits[0].type = 'nofile')).message).toMatch(/did you mean RLIMIT_NOFILE/);
    const dup = editError((c) => c.process.rlimits.push({ type: 'RLIMIT_NOFILE', hard: 1, soft: 1 }));
    expect(dup.field).toBe('process.rlimits[1].type');
    const soft = editError((c) => (c.process.rlimits[0].soft = 2048));
    expect(soft.field).toBe('process.rlimits[0].soft');
  });

  it('knows capability names', () => {
    const e = editError((c) => (c.process.capabilities.permitted[1] = 'cap_kill'));
    expect(e.field).toBe('process.capabilities.permitted[1]');
    expect(e.message).toMatch(/did you mean CAP_KILL/);
    expect(editError((c) => (c.process.capabilities.ambient = ['CAP_FLY'])).field).toBe('process.capabilities.ambient[0]');
  });

  it('wants absolute hook paths and positive timeouts', () => {
    const rel = editError((c) => (c.hooks = { poststop: [{ path: 'cleanup.sh' }] }));
    expect(rel.field).toBe('hooks.poststop[0].path');
    expect(rel.message).toMatch(/absolute/);
    expect(editError((c) => (c.hooks = { prestart: [{ path: '/bin/true', timeout: 0 }] })).field).toBe('hooks.prestart[0].timeout');
    expect(parseSpec(specText((c) => (c.hooks = { prestart: [{ path: '/bin/true', timeout: 5 }] }))).hooks?.prestart?.[0]?.timeout).toBe(5);
  });

  it('checks rootfsPropagation', () => {
    const e = editError((c) => (c.linux.rootfsPropagation = 'rprivat'));
    expect(e.field).toBe('linux.rootfsPropagation');
    expect(e.message).toMatch(/rootfsPropagation=rprivat is not supported/);
    expect(parseSpec(specText((c) => (c.linux.rootfsPropagation = 'rshared'))).linux?.rootfsPropagation).toBe('rshared');
  });

  it('wants a UTS namespace for hostname and a mount namespace for masked paths, like runc', () => {
    const uts = editError((c) => c.linux.namespaces.splice(3, 1));
    expect(uts.field).toBe('hostname');
    expect(uts.message).toMatch(/unable to set hostname without a private UTS namespace/);
    const mnt = editError((c) => c.linux.namespaces.splice(4, 1));
    expect(mnt.field).toBe('linux.maskedPaths');
    expect(mnt.message).toMatch(/without a private MNT namespace/);
  });
});

describe('loadSpec', () => {
  it('reads <bundle>/config.json', () => {
    const bundle = fs.mkdtempSync(path.join(tmp, 'bundle-'));
    fs.writeFileSync(path.join(bundle, 'config.json'), specText((c) => (c.process.args = ['/bin/echo', 'hi'])));
    expect(loadSpec(bundle).process?.args).toEqual(['/bin/echo', 'hi']);
  });

  it('says how to create a missing config.json', () => {
    const bundle = fs.mkdtempSync(path.join(tmp, 'empty-'));
    expect(() => loadSpec(bundle)).toThrow(SpecError);
    expect(() => loadSpec(bundle)).toThrow(`config.json not found in ${bundle}: run \`tslab-runtime spec\` there to create one`);
  });

  it('names the file and the line in errors', () => {
    const bundle = fs.mkdtempSync(path.join(tmp, 'bad-'));
    const file = path.join(bundle, 'config.json');
    fs.writeFileSync(file, '{\n\t"ociVersion": "1.0.0",\n\t"process": {"cwd": 1}\n}');
    try {
      loadSpec(bundle);
      expect.unreachable();
    } catch (e) {
      const err = e as SpecError;
      expect(err.file).toBe(file);
      expect(err.message).toMatch(/process\.cwd must be a string/);
      expect(err.message.startsWith(`${file}:3:21: process.cwd must be a string`), err.message).toBe(true);
    }
  });

  it('refuses a directory named config.json', () => {
    const bundle = fs.mkdtempSync(path.join(tmp, 'dir-'));
    fs.mkdirSync(path.join(bundle, 'config.json'));
    expect(() => loadSpec(bundle)).toThrow(/is a directory/);
  });
});

describe('resolveRootfs', () => {
  const bundle = path.join(tmp, 'rootfs-bundle');
  fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  const withRoot = (p: string): Spec => ({ ...defaultSpec({ terminal: false }), root: { path: p } });

  it('joins a relative root.path to the bundle', () => {
    expect(resolveRootfs(bundle, withRoot('rootfs'))).toBe(path.join(bundle, 'rootfs'));
    expect(resolveRootfs(bundle, withRoot('./rootfs/'))).toBe(path.join(bundle, 'rootfs'));
  });

  it('takes an absolute root.path as is', () => {
    expect(resolveRootfs('/nonexistent', withRoot(path.join(bundle, 'rootfs')))).toBe(path.join(bundle, 'rootfs'));
  });

  it('refuses a missing rootfs, a file, and a path through a symlink', () => {
    expect(() => resolveRootfs(bundle, withRoot('nothing'))).toThrow(/does not exist/);
    fs.writeFileSync(path.join(bundle, 'file'), '');
    expect(() => resolveRootfs(bundle, withRoot('file'))).toThrow(/not a directory/);
    fs.symlinkSync('rootfs', path.join(bundle, 'link'));
    expect(() => resolveRootfs(bundle, withRoot('link'))).toThrow(/symlink/);
    try {
      resolveRootfs(bundle, withRoot('nothing'));
    } catch (e) {
      expect((e as SpecError).field).toBe('root.path');
    }
  });
});

describe('rlimit table (used by the loader)', async () => {
  const { RLIMITS, RLIM_INFINITY, rlimitName, rlimitNumber, rlimitValue, RlimitError } = await import('../../src/runtime/rlimits.js');

  it('numbers rlimits as x86_64 does', () => {
    expect(Object.keys(RLIMITS)).toHaveLength(16);
    expect(rlimitNumber('RLIMIT_CPU')).toBe(0);
    expect(rlimitNumber('RLIMIT_CORE')).toBe(4);
    expect(rlimitNumber('RLIMIT_NPROC')).toBe(6);
    expect(rlimitNumber('RLIMIT_NOFILE')).toBe(7);
    expect(rlimitNumber('RLIMIT_AS')).toBe(9);
    expect(rlimitNumber('RLIMIT_RTTIME')).toBe(15);
    expect(rlimitName(7)).toBe('RLIMIT_NOFILE');
    expect(rlimitName(99)).toBe('RLIMIT_99');
    expect(() => rlimitNumber('RLIMIT_nofile')).toThrow(RlimitError);
    expect(() => rlimitNumber('toString')).toThrow(/wrong rlimit value: toString/);
  });

  it('turns config values into exact u64s', () => {
    expect(rlimitValue(1024)).toBe(1024n);
    expect(rlimitValue(0)).toBe(0n);
    expect(rlimitValue(Number('18446744073709551615'))).toBe(RLIM_INFINITY);
    expect(RLIM_INFINITY).toBe(18446744073709551615n);
    expect(rlimitValue(2 ** 53)).toBe(2n ** 53n);
  });
});
