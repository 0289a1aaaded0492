// The before/after table of a `tslab enable` cell (src/lab/kernel-state.ts).
import * as fs from 'node:fs';
import { describe, expect, test } from 'vitest';
import { diffKernelState, readKernelState, type KernelState } from '../../src/lab/kernel-state.js';

describe('diffKernelState', () => {
  const before: KernelState = [
    ['pid (host view)', '100'],
    ['uts namespace', 'uts:[1]'],
    ['hostname', 'host'],
    ['only before', 'x'],
  ];
  const after: KernelState = [
    ['pid (host view)', '200'],
    ['uts namespace', 'uts:[2]'],
    ['hostname', 'host'],
    ['only after', 'y'],
  ];

  test("one row per row of `after`, in its order, each with the before value and whether it changed", () => {
    expect(diffKernelState(before, after)).toEqual([
      { label: 'pid (host view)', before: '100', after: '200', changed: true },
      { label: 'uts namespace', before: 'uts:[1]', after: 'uts:[2]', changed: true },
      { label: 'hostname', before: 'host', after: 'host', changed: false },
      { label: 'only after', before: '-', after: 'y', changed: true },
    ]);
  });

  test('a label missing before shows "-", and is unchanged when it is "-" after too', () => {
    expect(diffKernelState([], [['memory limit', '-']])).toEqual([{ label: 'memory limit', before: '-', after: '-', changed: false }]);
  });

  test('labels only in `before` are not shown; equal states have no change', () => {
    const rows = diffKernelState(before, before);
    expect(rows.map((r) => r.label)).toEqual(before.map(([label]) => label));
    expect(rows.every((r) => !r.changed)).toBe(true);
    expect(diffKernelState(before, [])).toEqual([]);
  });

  test('values are compared exactly (whitespace and case count)', () => {
    const rows = diffKernelState([['a', 'X'], ['b', '1 ']], [['a', 'x'], ['b', '1']]);
    expect(rows.map((r) => r.changed)).toEqual([true, true]);
  });
});

describe('readKernelState', () => {
  test('of this process: the rows the lab shows, read from /proc', () => {
    const state = readKernelState(process.pid);
    const rows = new Map(state);
    expect(state.map(([label]) => label)).toEqual([
      'pid (host view)',
      'uts namespace',
      'pid namespace',
      'mnt namespace',
      'net namespace',
      'ipc namespace',
      'cgroup namespace',
      'user namespace',
      'hostname',
      'NSpid',
      'uid_map',
      'root',
      'mounts',
      'pids in its /proc',
      'net devices',
      'cgroup',
      'memory limit',
      'pids limit',
      'cpu quota',
      'CapEff',
      'CapBnd',
      'NoNewPrivs',
      'Seccomp',
    ]);
    expect(rows.get('pid (host view)')).toBe(String(process.pid));
    for (const ns of ['uts', 'pid', 'mnt', 'net', 'ipc', 'cgroup', 'user']) {
      expect(rows.get(`${ns} namespace`)).toBe(fs.readlinkSync(`/proc/self/ns/${ns}`));
    }
    expect(rows.get('hostname')).toBe(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
    expect(rows.get('root')).toBe('/');
    // The host's user namespace maps every id to itself.
    expect(rows.get('uid_map')).toBe('0 0 4294967295');
    expect(rows.get('net devices')!.split(' ')).toContain('lo');
    expect(Number(rows.get('mounts'))).toBeGreaterThan(0);
    // No cgroup dirs given: the limits are "-".
    expect(rows.get('memory limit')).toBe('-');
    expect(rows.get('pids limit')).toBe('-');
    expect(rows.get('CapEff')).toMatch(/^[0-9a-f]{16}$/);
    expect(rows.get('NoNewPrivs')).toMatch(/^[01]$/);
  });

  test('of a process that does not exist: "?" where /proc had to answer, never a throw', () => {
    // Beyond pid_max: cannot exist.
    const pidMax = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    const rows = new Map(readKernelState(pidMax + 1));
    expect(rows.get('uts namespace')).toBe('?');
    expect(rows.get('hostname')).toBe('?');
    expect(rows.get('NSpid')).toBe('?');
    expect(rows.get('root')).toBe('?');
    expect(rows.get('pids in its /proc')).toBe('0 ()');
  });
});
