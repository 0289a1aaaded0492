import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSpec } from '../../src/runtime/spec/default-spec.js';
import { SpecError } from '../../src/runtime/spec/spec-error.js';
import { MAX_CONFIG_BYTES, loadSpec, parseSpec, resolveRootfs } from '../../src/runtime/spec/load.js';
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
  it('refuses seccomp user notification (listenerPath); test/unit/seccomp-spec.test.ts has the rest', () => {
    const e = editError((c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' }));
    expect(e.field).toBe('linux.seccomp.listenerPath');
    expect(e.message).toMatch(/does not support seccomp user notification/);
  });

  it('refuses uid and gid mappings without a user namespace', () => {
    const m = [{ containerID: 0, hostID: 1000, size: 1 }];
    expect(editError((c) => (c.linux.uidMappings = m)).message).toMatch(/linux\.uidMappings is set, but the container has no user namespace/);
    expect(editError((c) => (c.linux.gidMappings = m)).field).toBe('linux.gidMappings');
    // An empty list maps nothing, as in runc.
    expect(parseSpec(specText((c) => (c.linux.uidMappings = []))).linux?.uidMappings).toEqual([]);
  });

  it('takes a user namespace with mappings of root; refuses one without, or with ranges the kernel would refuse', () => {
    const m = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const withUser = (c: any) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = m;
      c.linux.gidMappings = m;
    };
    expect(parseSpec(specText(withUser)).linux?.uidMappings).toEqual(m);
    expect(editError((c) => c.linux.namespaces.push({ type: 'user' })).message).toMatch(/no uid mappings/);
    const overlap = editError((c) => {
      withUser(c);
      c.linux.gidMappings = [...m, { containerID: 70000, hostID: 100001, size: 1 }];
    });
    expect([overlap.field, overlap.message]).toEqual(['linux.gidMappings[1]', expect.stringMatching(/overlap \(their hostID ranges/)]);
    expect(editError((c) => {
      withUser(c);
      c.linux.uidMappings = [{ containerID: 1, hostID: 100000, size: 1 }];
    }).message).toMatch(/does not map uid 0/);
    expect(editError((c) => {
      withUser(c);
      c.process.user.uid = 70000;
    }).field).toBe('process.user.uid');
    expect(editError((c) => {
      withUser(c);
      c.linux.namespaces.push({ type: 'user', path: '/proc/1/ns/user' });
    }).message).toMatch(/duplicated ns "user"/);
  });

  it('refuses a time namespace', () => {
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

  it('refuses a mount over the root itself, however it is spelled', () => {
    for (const destination of ['/', '/mnt/../../..', '//.']) {
      const e = editError((c) => (c.mounts[2].destination = destination));
      expect(e.field).toBe('mounts[2].destination');
      expect(e.message).toMatch(/is the container's root itself/);
    }
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

describe('parseSpec: hostile values are refused, never wrapped around or dropped', () => {
  const cases: [string, (c: any) => void, string, RegExp][] = [
    ['uid 2^31', (c) => (c.process.user.uid = 2147483648), 'process.user.uid', /uids and gids must be in range 0-2147483647/],
    ['uid -1 as u32', (c) => (c.process.user.uid = 4294967295), 'process.user.uid', /range 0-2147483647/],
    ['gid', (c) => (c.process.user.gid = 4294967295), 'process.user.gid', /range 0-2147483647/],
    ['additional gid', (c) => (c.process.user.additionalGids = [5, 4294967295]), 'process.user.additionalGids[1]', /range 0-2147483647/],
    ['device uid', (c) => (c.linux.devices = [{ path: '/dev/x', type: 'c', major: 1, minor: 3, uid: 4294967295 }]), 'linux.devices[0].uid', /range/],
    ['mapping hostID', (c) => (c.linux.uidMappings = [{ containerID: 0, hostID: 4294967295, size: 1 }]), 'linux.uidMappings[0].hostID', /range/],
    ['umask', (c) => (c.process.user.umask = 0o1000), 'process.user.umask', /permission bits only/],
    ['console size', (c) => (c.process.consoleSize = { height: 65536, width: 80 }), 'process.consoleSize.height', /16 bits/],
    ['oomScoreAdj', (c) => (c.process.oomScoreAdj = 1001), 'process.oomScoreAdj', /-1000 .* to 1000/],
    ['device major', (c) => (c.linux.devices = [{ path: '/dev/x', type: 'c', major: 4096, minor: 1 }]), 'linux.devices[0].major', /0 to 4095/],
    ['device minor', (c) => (c.linux.devices = [{ path: '/dev/x', type: 'b', major: 1, minor: 2 ** 20 }]), 'linux.devices[0].minor', /0 to 1048575/],
    ['device mode', (c) => (c.linux.devices = [{ path: '/dev/x', type: 'c', major: 1, minor: 3, fileMode: 0o10666 }]), 'linux.devices[0].fileMode', /permission bits/],
    ['device rule', (c) => (c.linux.resources.devices[0].major = -2), 'linux.resources.devices[0].major', /-1 \(any\)/],
    ['cpu period', (c) => (c.linux.resources.cpu = { period: 999 }), 'linux.resources.cpu.period', /1000 to 1000000/],
    ['cpu quota', (c) => (c.linux.resources.cpu = { quota: 999 }), 'linux.resources.cpu.quota', /-1 \(no limit\) or 1000/],
    ['memory limit', (c) => (c.linux.resources.memory = { limit: -2 }), 'linux.resources.memory.limit', /-1 \(no limit\)/],
    ['swappiness', (c) => (c.linux.resources.memory = { swappiness: 101 }), 'linux.resources.memory.swappiness', /0 to 100/],
    ['hostname length', (c) => (c.hostname = 'h'.repeat(65)), 'hostname', /65 bytes long.*at most 64/],
    ['hook timeout', (c) => (c.hooks = { prestart: [{ path: '/bin/true', timeout: 2147484 }] }), 'hooks.prestart[0].timeout', /at most 2147483 seconds/],
    ['selinux label', (c) => (c.process.selinuxLabel = 'system_u:system_r:container_t:s0'), 'process.selinuxLabel', /selinux is disabled or not supported/],
    ['apparmor profile', (c) => (c.process.apparmorProfile = 'docker-default'), 'process.apparmorProfile', /cannot apply AppArmor profiles/],
  ];
  for (const [name, edit, field, message] of cases) {
    it(name, () => {
      const e = editError(edit);
      expect(e.field).toBe(field);
      expect(e.message).toMatch(message);
    });
  }

  it('refuses whole numbers a double cannot hold exactly, except RLIM_INFINITY', () => {
    const e = specError(specText().replace('"hard": 1024', '"hard": 9007199254740993'));
    expect(e.field).toBe('process.rlimits[0].hard');
    expect(e.message).toMatch(/9007199254740993, which is beyond the largest whole number tslab handles exactly .*18446744073709551615 for no limit/);
    expect(specError(specText((c) => (c.linux.resources.memory = { limit: 1 })).replace('"limit": 1', '"limit": 9223372036854775807')).field).toBe('linux.resources.memory.limit');
    expect(parseSpec(specText((c) => (c.linux.resources.memory = { limit: 2 ** 53 - 1 }))).linux?.resources?.memory?.limit).toBe(2 ** 53 - 1);
  });

  it('accepts the edges of every range', () => {
    const spec = parseSpec(specText((c) => {
      c.process.user = { uid: 2147483647, gid: 2147483647, additionalGids: [0, 2147483647], umask: 0o777 };
      c.process.oomScoreAdj = -1000;
      c.linux.devices = [{ path: '/dev/x', type: 'c', major: 4095, minor: 1048575, fileMode: 0o7777, uid: 0, gid: 2147483647 }];
      c.linux.resources.cpu = { period: 1000000, quota: -1 };
      c.hostname = 'h'.repeat(64);
      c.hooks = { poststop: [{ path: '/bin/true', timeout: 2147483 }] };
    }));
    expect(spec.process?.user.uid).toBe(2147483647);
  });
});

describe('parseSpec: settings that would change the host', () => {
  const noNs = (type: string) => (c: any) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== type));
  const cases: [string, (c: any) => void, string, RegExp][] = [
    ['domainname without UTS', (c) => (noNs('uts')(c), delete c.hostname, (c.domainname = 'example')), 'domainname', /unable to set domainname without a private UTS namespace/],
    ['net sysctl without netns', (c) => (noNs('network')(c), (c.linux.sysctl = { 'net.ipv4.ip_forward': '1' })), 'linux.sysctl["net.ipv4.ip_forward"]', /not allowed in host network namespace/],
    ['ipc sysctl without IPC ns', (c) => (noNs('ipc')(c), (c.linux.sysctl = { 'kernel.shmmax': '1' })), 'linux.sysctl["kernel.shmmax"]', /not allowed in the hosts ipc namespace/],
    ['mqueue sysctl without IPC ns', (c) => (noNs('ipc')(c), (c.linux.sysctl = { 'fs/mqueue/msg_max': '1' })), 'linux.sysctl["fs/mqueue/msg_max"]', /"fs\.mqueue\.msg_max" is not allowed in the hosts ipc/],
    ['kernel.hostname', (c) => (c.linux.sysctl = { 'kernel.hostname': 'x' }), 'linux.sysctl["kernel.hostname"]', /conflicts with the OCI "hostname" field/],
    ['kernel.domainname without UTS', (c) => (noNs('uts')(c), delete c.hostname, (c.linux.sysctl = { 'kernel.domainname': 'x' })), 'linux.sysctl["kernel.domainname"]', /not in a separate kernel namespace/],
    ['other kernel sysctl', (c) => (c.linux.sysctl = { 'kernel.panic': '1' }), 'linux.sysctl["kernel.panic"]', /not in a separate kernel namespace/],
    // Said before anything is written, rather than as ENOENT from /proc/sys/net/ipv4/conf/all//////kernel/hostname.
    ['traversal in a sysctl key', (c) => (noNs('uts')(c), delete c.hostname, (c.linux.sysctl = { 'net.ipv4.conf.all/../../../kernel/hostname': 'x' })), 'linux.sysctl["net.ipv4.conf.all/../../../kernel/hostname"]', /not a sysctl name/],
    ['empty part in a sysctl key', (c) => (c.linux.sysctl = { 'net..ipv4': '1' }), 'linux.sysctl["net..ipv4"]', /not a sysctl name/],
  ];
  for (const [name, edit, field, message] of cases) {
    it(name, () => {
      const e = editError(edit);
      expect(e.field).toBe(field);
      expect(e.message).toMatch(message);
    });
  }

  it('accepts namespaced sysctls, in either spelling', () => {
    const spec = parseSpec(specText((c) => (c.linux.sysctl = { 'net/ipv4/conf/eno2.100/rp_filter': '1', 'kernel.domainname': 'x', 'kernel.msgmax': '1', 'fs.mqueue.msg_max': '1' })));
    expect(Object.keys(spec.linux?.sysctl ?? {})).toHaveLength(4);
  });
});

describe('parseSpec: large and deep input', () => {
  it('reads a 20 MB string in linear time (one slice, not a concatenation per character)', () => {
    const text = specText((c) => (c.annotations = { big: 'a'.repeat(20 * 1024 * 1024) }));
    const t0 = performance.now();
    expect(parseSpec(text).annotations?.big).toHaveLength(20 * 1024 * 1024);
    // Measured: ~0.2 s; the character-by-character reader took ~8 s.
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('refuses nesting deeper than 1000 levels with a sentence, not a stack overflow', () => {
    const deep = specText().replace('"hostname"', `"x": ${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}, "hostname"`);
    expect(specError(deep).message).toMatch(/nested more than 1000 levels deep/);
    expect(parseSpec(specText().replace('"hostname"', `"x": ${'['.repeat(900)}${']'.repeat(900)}, "hostname"`)).ociVersion).toBeTruthy();
  });
});

describe('loadSpec: config.json as hostile input', () => {
  const bundleWith = (make: (file: string) => void): string => {
    const bundle = fs.mkdtempSync(path.join(tmp, 'hostile-'));
    make(path.join(bundle, 'config.json'));
    return bundle;
  };
  const loadError = (bundle: string): SpecError => {
    try {
      loadSpec(bundle);
    } catch (e) {
      expect(e).toBeInstanceOf(SpecError);
      return e as SpecError;
    }
    throw new Error('loadSpec did not throw');
  };

  it('refuses a FIFO at once instead of waiting for a writer', () => {
    const bundle = bundleWith((file) => execFileSync('mkfifo', [file]));
    expect(loadError(bundle).message).toMatch(/is a FIFO \(named pipe\), but the bundle's configuration must be a regular file/);
  });

  it('refuses /dev/zero behind a symlink, and follows a symlink to a regular file as runc does', () => {
    expect(loadError(bundleWith((file) => fs.symlinkSync('/dev/zero', file))).message).toMatch(/is a character device/);
    const real = path.join(tmp, 'real-config.json');
    fs.writeFileSync(real, specText());
    expect(loadSpec(bundleWith((file) => fs.symlinkSync(real, file))).process?.args).toEqual(['sh']);
  });

  it('refuses a file over the 4 MiB cap quickly, naming the cap', () => {
    const bundle = bundleWith((file) => fs.writeFileSync(file, specText((c) => (c.annotations = { big: 'a'.repeat(50 * 1024 * 1024) }))));
    const t0 = performance.now();
    expect(loadError(bundle).message).toMatch(/is larger than 4 MiB \(5\d{7} bytes or more\), the most tslab reads/);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(MAX_CONFIG_BYTES).toBe(4 * 1024 * 1024);
  });

  it('refuses an open-file limit above fs.nr_open, which setrlimit refuses even for root', () => {
    const nrOpen = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8'));
    const bundle = bundleWith((file) => fs.writeFileSync(file, specText((c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: nrOpen + 1 }]))));
    const e = loadError(bundle);
    expect(e.field).toBe('process.rlimits[0].hard');
    expect(e.message).toContain(`RLIMIT_NOFILE can be at most fs.nr_open (${nrOpen} here)`);
    const infinite = bundleWith((file) => fs.writeFileSync(file, specText().replace('"hard": 1024', '"hard": 18446744073709551615')));
    expect(loadError(infinite).message).toMatch(/hard is 18446744073709551615 \(no limit\), but RLIMIT_NOFILE/);
    expect(loadSpec(bundleWith((file) => fs.writeFileSync(file, specText((c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: nrOpen, hard: nrOpen }])))))).toBeTruthy();
  });

  describe('namespace paths', () => {
    let netns: ChildProcess;
    beforeAll(async () => {
      // A network namespace of our own, held by a sleeping process (no /run/netns entry left behind).
      netns = spawn('unshare', ['--net', 'sleep', '60'], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 200));
    });
    afterAll(() => netns.kill('SIGKILL'));
    const withNs = (edit: (c: any) => void) => bundleWith((file) => fs.writeFileSync(file, specText(edit)));
    const setPath = (type: string, p: string) => (c: any) => (c.linux.namespaces.find((n: any) => n.type === type).path = p);

    it('refuses a FIFO, naming it, without blocking', () => {
      const fifo = path.join(tmp, 'ns-fifo');
      execFileSync('mkfifo', [fifo]);
      const e = loadError(withNs(setPath('network', fifo)));
      expect(e.field).toBe('linux.namespaces[1].path');
      expect(e.message).toMatch(/ns-fifo" is a FIFO \(named pipe\), not a namespace file: to join a network namespace give a file like \/proc\/<pid>\/ns\/net/);
    });

    it('refuses a missing file, a regular file and a namespace of another type', () => {
      expect(loadError(withNs(setPath('ipc', '/nonexistent/ns'))).message).toMatch(/"\/nonexistent\/ns" does not exist/);
      expect(loadError(withNs(setPath('ipc', '/etc/hostname'))).message).toMatch(/is a regular file, not a namespace file/);
      expect(loadError(withNs(setPath('network', '/proc/self/ns/uts'))).message).toMatch(/is a uts namespace, but linux.namespaces\[1\] is of type network/);
    });

    it('refuses a net.* sysctl in the host network namespace joined by path, as runc does', () => {
      const own = `/proc/${process.pid}/ns/net`;
      const e = loadError(withNs((c) => (setPath('network', own)(c), (c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }))));
      expect(e.field).toBe('linux.sysctl["net.ipv4.ip_forward"]');
      expect(e.message).toContain(`not allowed in host network namespace: linux.namespaces[1].path "${own}" is the host's own network namespace`);
      // Another network namespace is fine.
      const spec = loadSpec(withNs((c) => (setPath('network', `/proc/${netns.pid}/ns/net`)(c), (c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }))));
      expect(spec.linux?.sysctl).toEqual({ 'net.ipv4.ip_forward': '1' });
    });

    it("refuses a hostname, a domainname or an IPC sysctl in the host's own namespaces joined by path, and the host's mount namespace", () => {
      expect(loadError(withNs(setPath('uts', '/proc/self/ns/uts'))).message).toMatch(/unable to set hostname in the host's UTS namespace/);
      const domain = loadError(withNs((c) => (setPath('uts', `/proc/${process.pid}/ns/uts`)(c), delete c.hostname, (c.domainname = 'x'))));
      expect(domain.field).toBe('domainname');
      const mnt = loadError(withNs(setPath('mount', `/proc/${process.pid}/ns/mnt`)));
      expect(mnt.field).toBe('linux.namespaces[4].path');
      expect(mnt.message).toMatch(/cannot join the host's mount namespace/);
      const ipc = loadError(withNs((c) => (setPath('ipc', `/proc/${process.pid}/ns/ipc`)(c), (c.linux.sysctl = { 'kernel.shmmax': '1' }))));
      expect(ipc.message).toMatch(/"kernel.shmmax" is not allowed in the hosts ipc namespace: .* host's own ipc namespace/);
    });
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

  it("refuses the host's own root, however it is reached", () => {
    expect(() => resolveRootfs(bundle, withRoot('/'))).toThrow(/host's own root directory/);
    const ups = path.relative(bundle, '/');
    expect(() => resolveRootfs(bundle, withRoot(ups))).toThrow(/host's own root directory/);
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
  const { RLIMITS, RLIM_INFINITY, rlimitName, rlimitNumber, rlimitValue, RlimitError } = await import('../../src/runtime/process/rlimits.js');

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
