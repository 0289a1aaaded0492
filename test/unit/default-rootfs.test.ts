import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { buildBusyboxRootfs, isStaticElf } from '../../src/fs/busybox-rootfs.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-rootfs-test-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('isStaticElf', () => {
  test('the Debian static busybox has no interpreter', () => {
    expect(isStaticElf('/bin/busybox')).toBe(true);
  });

  test('a dynamically linked program (node) has one', () => {
    expect(isStaticElf(process.execPath)).toBe(false);
  });

  test('a script is not an ELF file', () => {
    const script = path.join(work, 'script.sh');
    fs.writeFileSync(script, '#!/bin/sh\necho hi\n'.padEnd(80, ' '));
    expect(isStaticElf(script)).toBe(false);
  });
});

describe('buildBusyboxRootfs', () => {
  test('makes a rootfs whose applets all point at busybox, with /etc and a sticky /tmp', () => {
    const target = path.join(work, 'rootfs');
    buildBusyboxRootfs(target);
    expect(isStaticElf(path.join(target, 'bin/busybox'))).toBe(true);
    expect(fs.realpathSync(path.join(target, 'bin/sh'))).toBe(path.join(target, 'bin/busybox'));
    expect(fs.readlinkSync(path.join(target, 'usr/bin/env')).startsWith('/')).toBe(false);
    expect(fs.readFileSync(path.join(target, 'etc/passwd'), 'utf8')).toMatch(/^root:x:0:0:/);
    expect(fs.statSync(path.join(target, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(fs.readdirSync(work).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });
});
