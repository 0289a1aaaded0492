import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultSpec, formatSpec } from '../../src/runtime/spec/default-spec.js';
import { parseSpec } from '../../src/runtime/spec/load.js';
import type { Spec } from '../../src/runtime/spec/types.js';

const hasRunc = spawnSync('runc', ['--version']).status === 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-default-spec-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function runcSpec(): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'runc-'));
  const r = spawnSync('runc', ['spec'], { cwd: dir, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
}

describe('defaultSpec', () => {
  it('has the fields runc spec writes', () => {
    const spec = defaultSpec({ terminal: false });
    expect(spec.ociVersion).toBe('1.0.2-dev');
    expect(spec.process?.args).toEqual(['sh']);
    expect(spec.process?.terminal).toBe(false);
    expect(spec.root).toEqual({ path: 'rootfs', readonly: true });
    expect(spec.linux?.namespaces?.map((n) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount']);
    expect(spec.process?.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
    expect(defaultSpec({ terminal: true }).process?.terminal).toBe(true);
  });

  it('returns a fresh object each time', () => {
    const a = defaultSpec({ terminal: false });
    a.process!.args.push('x');
    a.process!.capabilities!.bounding!.push('CAP_SYS_ADMIN');
    const b = defaultSpec({ terminal: false });
    expect(b.process?.args).toEqual(['sh']);
    expect(b.process?.capabilities?.bounding).toEqual(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
    expect(b.process?.capabilities?.effective).toEqual(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
  });

  it('passes our own loader', () => {
    const spec = parseSpec(formatSpec(defaultSpec({ terminal: true })));
    expect(spec).toEqual(defaultSpec({ terminal: true }));
  });

  it.skipIf(!hasRunc)('has the same content as `runc spec`', () => {
    expect(defaultSpec({ terminal: true })).toEqual(JSON.parse(runcSpec()));
  });

  it.skipIf(!hasRunc)('prints byte for byte what `runc spec` writes', () => {
    expect(formatSpec(defaultSpec({ terminal: true }))).toBe(runcSpec());
  });
});

describe('formatSpec', () => {
  it('uses tabs and ends with } and no newline, like runc', () => {
    const text = formatSpec(defaultSpec({ terminal: true }));
    expect(text.startsWith('{\n\t"ociVersion": "1.0.2-dev",\n\t"process": {\n\t\t"terminal": true,\n')).toBe(true);
    expect(text.endsWith('\n\t}\n}')).toBe(true);
    expect(text).not.toMatch(/ {2}/);
  });

  it('leaves out empty omitempty fields, as Go does', () => {
    const text = formatSpec(defaultSpec({ terminal: false }));
    expect(text).not.toContain('terminal');
    expect(text).toContain('"allow": false');
  });

  it('prints fields in Go struct order, whatever the object order', () => {
    const spec = { linux: { namespaces: [{ path: '/proc/1/ns/net', type: 'network' }] }, root: { readonly: false, path: 'r' }, ociVersion: '1.0.0' } as Spec;
    expect(formatSpec(spec)).toBe(
      '{\n\t"ociVersion": "1.0.0",\n\t"root": {\n\t\t"path": "r"\n\t},\n\t"linux": {\n\t\t"namespaces": [\n\t\t\t{\n\t\t\t\t"type": "network",\n\t\t\t\t"path": "/proc/1/ns/net"\n\t\t\t}\n\t\t]\n\t}\n}',
    );
  });

  it('prints pointer fields even when zero, and required fields even when missing', () => {
    const spec: Spec = {
      ociVersion: '1.0.0',
      process: { user: { uid: 0, gid: 0, umask: 0 }, args: ['a'], cwd: '/', oomScoreAdj: 0 },
    };
    const parsed = JSON.parse(formatSpec(spec));
    expect(parsed.process.user).toEqual({ uid: 0, gid: 0, umask: 0 });
    expect(parsed.process.oomScoreAdj).toBe(0);
    const noCwd = JSON.parse(formatSpec({ ociVersion: '1', process: { user: { uid: 1, gid: 2 }, args: [] } } as unknown as Spec));
    expect(noCwd.process).toEqual({ user: { uid: 1, gid: 2 }, cwd: '' });
  });

  it('escapes strings like Go and sorts map keys', () => {
    const spec: Spec = { ociVersion: '1.0.0', annotations: { b: 'x<y>&z', a: 'tab\there\u0001', é: '\u2028' } };
    expect(formatSpec(spec)).toBe(
      '{\n\t"ociVersion": "1.0.0",\n\t"annotations": {\n\t\t"a": "tab\\there\\u0001",\n\t\t"b": "x\\u003cy\\u003e\\u0026z",\n\t\t"é": "\\u2028"\n\t}\n}',
    );
  });

  it('prints RLIM_INFINITY back as 18446744073709551615', () => {
    const text = formatSpec({
      ociVersion: '1.0.0',
      process: { user: { uid: 0, gid: 0 }, args: ['a'], cwd: '/', rlimits: [{ type: 'RLIMIT_CORE', soft: 18446744073709551615, hard: 18446744073709551615 }] },
    });
    expect(text).toContain('"hard": 18446744073709551615,');
    expect(text).toContain('"soft": 18446744073709551615\n');
  });

  it('keeps fields it does not know, after the known ones', () => {
    const spec = { extra: { z: 1, a: [true] }, ociVersion: '1.0.0' } as unknown as Spec;
    expect(formatSpec(spec)).toBe('{\n\t"ociVersion": "1.0.0",\n\t"extra": {\n\t\t"z": 1,\n\t\t"a": [\n\t\t\ttrue\n\t\t]\n\t}\n}');
  });
});
