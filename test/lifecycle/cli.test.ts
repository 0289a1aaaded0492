// The command line itself: spec, list, --root, --version, unknown commands.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite } from '../helpers/bundle.js';
import { execRuntime, expectError, expectOk, KNOWN_DIFFERENCES, Runtime } from '../helpers/runtime.js';

const s = setupSuite('cli');

describe('spec', () => {
  test('spec writes a config.json in the current directory', async () => {
    const dir = s.tmpDir('spec');
    expectOk(await s.rt.exec(['spec'], { cwd: dir }));
    const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(typeof spec.ociVersion).toBe('string');
    expect(spec.process.args).toEqual(['sh']);
    // The test's stdin is not a terminal.
    expect(spec.process.terminal ?? false).toBe(KNOWN_DIFFERENCES.specTerminalAlwaysTrue);
    expect(spec.process.cwd).toBe('/');
    expect(spec.process.user).toEqual({ uid: 0, gid: 0 });
    expect(spec.root).toEqual({ path: 'rootfs', readonly: true });
    expect(spec.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
    expect(spec.process.noNewPrivileges).toBe(true);
    const ns = (spec.linux.namespaces as Array<{ type: string }>).map((n) => n.type).sort();
    expect(ns).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
    const mounts = (spec.mounts as Array<{ destination: string }>).map((m) => m.destination);
    for (const d of ['/proc', '/dev', '/dev/pts', '/dev/shm', '/sys']) expect(mounts).toContain(d);
    expect(spec.linux.maskedPaths).toContain('/proc/kcore');
    expect(spec.linux.readonlyPaths).toContain('/proc/sys');
    expect(spec.process.capabilities.bounding).toEqual(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
  });

  test('spec --bundle writes into that directory', async () => {
    const dir = s.tmpDir('spec');
    expectOk(await s.rt.exec(['spec', '--bundle', dir]));
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).process.args).toEqual(['sh']);
  });

  test('spec refuses to overwrite an existing config.json', async () => {
    const dir = s.tmpDir('spec');
    fs.writeFileSync(path.join(dir, 'config.json'), '{"mine": true}');
    expectError(await s.rt.exec(['spec'], { cwd: dir }));
    expect(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).toBe('{"mine": true}');
  });
});

describe('list', () => {
  test('list prints a table with an ID header and the containers', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const ids = [s.id(), s.id()];
    for (const id of ids) expectOk(await s.create(b, id));
    const r = await s.rt.exec(['list']);
    expectOk(r);
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines[0].split(/\s+/)[0]).toBe('ID');
    for (const h of ['PID', 'STATUS', 'BUNDLE', 'CREATED']) expect(lines[0]).toContain(h);
    const rows = lines.slice(1).map((l) => l.split(/\s+/));
    expect(rows.map((row) => row[0]).sort()).toEqual([...ids].sort());
    for (const row of rows) {
      expect(row[2]).toBe('created');
      expect(row[3]).toBe(b.dir);
    }
  });

  test('list --format json is an array with the ids', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const created = s.id();
    const running = s.id();
    expectOk(await s.create(b, created));
    expectOk(await s.rt.exec(['run', '--detach', '--bundle', b.dir, running]));
    const r = await s.rt.exec(['list', '--format', 'json']);
    expectOk(r);
    const list = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(Array.isArray(list)).toBe(true);
    const byId = Object.fromEntries(list.map((c) => [c.id, c]));
    expect(Object.keys(byId).sort()).toEqual([created, running].sort());
    expect(byId[created].status).toBe('created');
    expect(byId[running].status).toBe('running');
    expect(byId[running].bundle).toBe(b.dir);
    expect(typeof byId[running].pid).toBe('number');
  });

  test('list -q prints only the ids', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const id = s.id();
    expectOk(await s.create(b, id));
    const r = await s.rt.exec(['list', '-q']);
    expectOk(r);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([id]);
  });

  test('list with no containers shows the header only (json: empty)', async () => {
    const r = await s.rt.exec(['list']);
    expectOk(r);
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines.length).toBe(1);
    expect(lines[0].split(/\s+/)[0]).toBe('ID');
    // runc prints `null` here; an empty array means the same.
    expect(await s.rt.list()).toEqual([]);
  });
});

describe('--root', () => {
  test('state lives in --root while the container exists, and only there', async () => {
    const other = new Runtime(path.join(s.tmpDir('root'), 'other-root'));
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const id = s.id();
    expectOk(await s.create(b, id));
    expect(fs.readdirSync(s.rt.root)).toEqual([id]);
    expect(fs.statSync(path.join(s.rt.root, id)).isDirectory()).toBe(true);
    // Another root does not know it.
    expect((await other.exec(['state', id])).code).not.toBe(0);
    expect(await other.list()).toEqual([]);
    expect((await s.rt.list()).map((c) => c.id)).toEqual([id]);
    expectOk(await s.rt.exec(['delete', '--force', id]));
    expect(fs.readdirSync(s.rt.root)).toEqual([]);
  });

  test('the same id can exist in two roots', async () => {
    const otherRoot = path.join(s.tmpDir('root'), 'other-root');
    const other = new Runtime(otherRoot);
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      // Two containers with one id would share cgroups: give the second its own.
      spec.linux.cgroupsPath = `/${s.prefix}-second`;
    });
    const b1 = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
    });
    const id = s.id();
    expectOk(await s.create(b1, id));
    s.defer(async () => {
      // Deleted by the test already unless it failed before that.
      if (fs.existsSync(path.join(otherRoot, id))) await other.forceDelete(id);
    });
    expectOk(await other.exec(['create', '--bundle', b.dir, id]));
    const a = await s.rt.state(id);
    const c = await other.state(id);
    expect(a.pid).not.toBe(c.pid);
    expect(a.bundle).toBe(b1.dir);
    expect(c.bundle).toBe(b.dir);
    expectOk(await other.exec(['delete', '--force', id]));
    expect(fs.readdirSync(otherRoot)).toEqual([]);
    expect((await s.rt.state(id)).status).toBe('created');
  });
});

describe('misc', () => {
  test('--version prints something and exits 0', async () => {
    const r = await execRuntime(null, ['--version']);
    expectOk(r);
    expect(r.stdout.trim().length).toBeGreaterThan(0);
  });

  test('an unknown subcommand is an error', async () => {
    expectError(await s.rt.exec(['no-such-subcommand']));
  });
});
