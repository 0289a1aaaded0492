// The pieces that keep image input from reaching the host, one by one: files of an archive opened beneath
// its root only (fs/regular-file.ts), the data dir and the store kept private (data-dir.ts), sizes from the
// environment (limits.ts), the image config's fields checked (config.ts), and store errors that never
// quote a blob's content.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ImageConfigError, checkImageConfig } from '../../src/image/config.js';
import { DataDirError, makePrivateDir } from '../../src/fs/data-dir.js';
import { LimitError, bytesFromEnv, formatBytes } from '../../src/image/limits.js';
import { UnsafeFileError, isRegularIn, openRegularIn, readOpened } from '../../src/fs/regular-file.js';
import { ImageStore } from '../../src/image/store.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-untrusted-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('openRegularIn beneath a root: a file of an archive, and nothing else', () => {
  const root = path.join(work, 'archive');
  fs.mkdirSync(path.join(root, 'blobs/sha256'), { recursive: true });
  fs.mkdirSync(path.join(work, 'outside'));
  fs.writeFileSync(path.join(work, 'outside/secret'), 'outside the archive\n');
  fs.writeFileSync(path.join(root, 'blobs/sha256/inside'), 'inside\n');
  fs.symlinkSync('inside', path.join(root, 'blobs/sha256/link-inside'));
  fs.symlinkSync('../../../outside/secret', path.join(root, 'blobs/sha256/link-out'));
  fs.symlinkSync('/etc/shadow', path.join(root, 'blobs/sha256/link-absolute'));
  fs.symlinkSync('/proc/self/root/etc/shadow', path.join(root, 'blobs/sha256/link-magic'));
  fs.symlinkSync('/dev/zero', path.join(root, 'blobs/sha256/link-zero'));
  execFileSync('mkfifo', [path.join(root, 'blobs/sha256/fifo')]);

  const read = (rel: string, max = 1024) => {
    const f = openRegularIn(root, rel, { confine: 'beneath', what: rel, maxBytes: max, within: 'the archive' });
    try {
      return readOpened(f, rel, max).toString();
    } finally {
      fs.closeSync(f.fd);
    }
  };

  test('a file, and a symlink that stays inside, are read', () => {
    expect(read('blobs/sha256/inside')).toBe('inside\n');
    expect(read('blobs/sha256/link-inside')).toBe('inside\n');
    expect(isRegularIn(root, 'blobs/sha256/link-inside', 'beneath')).toBe(true);
  });

  test.each(['link-out', 'link-absolute', 'link-magic', 'link-zero'])('the symlink %s leads out and is refused', (name) => {
    expect(() => read(`blobs/sha256/${name}`)).toThrow(/is \(or goes through\) a symlink that leads out of the archive, which tslab does not follow/);
    expect(isRegularIn(root, `blobs/sha256/${name}`, 'beneath')).toBe(false);
  });

  test('.. out of the root, a FIFO (without blocking), a directory, a missing file, one over the cap', () => {
    expect(() => read('../outside/secret')).toThrow(UnsafeFileError);
    expect(() => read('blobs/sha256/fifo')).toThrow(/blobs\/sha256\/fifo is a FIFO \(named pipe\), not a regular file/);
    expect(() => read('blobs')).toThrow(/is a directory, not a regular file/);
    expect(() => read('blobs/sha256/none')).toThrow(/is missing/);
    expect(() => read('blobs/sha256/inside', 3)).toThrow(/is 7 bytes, more than the 3 tslab reads for it/);
  });
});

describe('the data dir and the store are private to their owner', () => {
  test("made 0700; a 0755 one is tightened; 0710 with group root (docker's way) is left", () => {
    const fresh = path.join(work, 'data-new', 'nested');
    makePrivateDir(fresh, 'the data dir');
    expect(fs.statSync(fresh).mode & 0o777).toBe(0o700);
    const open = path.join(work, 'data-open');
    fs.mkdirSync(open, { mode: 0o755 });
    fs.chmodSync(open, 0o755);
    makePrivateDir(open, 'the data dir');
    expect(fs.statSync(open).mode & 0o777).toBe(0o700);
    const docker = path.join(work, 'data-docker');
    fs.mkdirSync(docker);
    fs.chmodSync(docker, 0o710);
    makePrivateDir(docker, 'the data dir');
    expect(fs.statSync(docker).mode & 0o777).toBe(0o710);
  });

  test.runIf(process.getuid?.() === 0)("as root, a dir another user owns is refused: root's layers there would be theirs", () => {
    const theirs = path.join(work, 'data-theirs');
    fs.mkdirSync(theirs);
    fs.chownSync(theirs, 65534, 65534);
    expect(() => makePrivateDir(theirs, 'the data dir')).toThrow(DataDirError);
    expect(() => makePrivateDir(theirs, 'the data dir')).toThrow(/belongs to uid 65534, not root/);
  });

  test('a file where the data dir should be is a sentence', () => {
    const file = path.join(work, 'data-file');
    fs.writeFileSync(file, '');
    expect(() => makePrivateDir(file, 'the data dir')).toThrow(/the data dir .* is not a directory/);
  });

  test('the store makes its root 0700 before it writes, and tightens an open one', () => {
    const root = path.join(work, 'store-open');
    fs.mkdirSync(root, { mode: 0o755 });
    fs.chmodSync(root, 0o755);
    new ImageStore(root).writeBlob(Buffer.from('{}'));
    expect(fs.statSync(root).mode & 0o777).toBe(0o700);
  });
});

describe('sizes from the environment', () => {
  test.each([
    ['1073741824', 1073741824],
    ['8M', 8 * 1024 ** 2],
    ['2g', 2 * 1024 ** 3],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['512KB', 512 * 1024],
  ])('%s is %d bytes', (value, bytes) => {
    process.env.TSLAB_TEST_SIZE = value;
    try {
      expect(bytesFromEnv('TSLAB_TEST_SIZE', 1)).toBe(bytes);
    } finally {
      delete process.env.TSLAB_TEST_SIZE;
    }
  });

  test('unset is the default; nonsense, zero and negative numbers are refused with a sentence', () => {
    expect(bytesFromEnv('TSLAB_TEST_SIZE', 42)).toBe(42);
    for (const bad of ['lots', '0', '-1G', '1Q']) {
      process.env.TSLAB_TEST_SIZE = bad;
      try {
        expect(() => bytesFromEnv('TSLAB_TEST_SIZE', 1)).toThrow(LimitError);
        expect(() => bytesFromEnv('TSLAB_TEST_SIZE', 1)).toThrow(/is not a size: give bytes, or a number with K, M, G or T \(e\.g\. TSLAB_TEST_SIZE=4G\)/);
      } finally {
        delete process.env.TSLAB_TEST_SIZE;
      }
    }
  });

  test('formatBytes', () => {
    expect([formatBytes(1024 ** 3), formatBytes(8 * 1024 ** 2), formatBytes(1536), formatBytes(1000)]).toEqual(['1 GiB', '8 MiB', '1.5 KiB', '1000 bytes']);
  });
});

describe('the image config: attacker text, checked', () => {
  const D = `sha256:${'a'.repeat(64)}`;
  const file = (config: unknown) => ({ architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: [D] } });

  test('a well-formed config comes back with only the fields tslab reads', () => {
    const checked = checkImageConfig(
      {
        ...file({ Entrypoint: ['/bin/sh', '-c'], Cmd: null, Env: ['PATH=/bin', 'EMPTY='], WorkingDir: '/work', User: 'app:1000', StopSignal: 'SIGINT', ExposedPorts: { '80/tcp': {} }, Labels: { a: 'b' }, Volumes: { '/x': {} } }),
        history: [{}],
      },
      'img',
    );
    expect(checked).toEqual({
      architecture: 'amd64',
      os: 'linux',
      config: { Entrypoint: ['/bin/sh', '-c'], Cmd: null, Env: ['PATH=/bin', 'EMPTY='], WorkingDir: '/work', User: 'app:1000', StopSignal: 'SIGINT', ExposedPorts: { '80/tcp': {} }, Labels: { a: 'b' } },
      rootfs: { diff_ids: [D] },
    });
    expect(checkImageConfig(file(undefined), 'img').config).toBeUndefined();
  });

  test.each([
    [{ Env: ['HOME'] }, /img: Env\[0\] is not NAME=VALUE/],
    [{ Env: ['=x'] }, /Env\[0\] is not NAME=VALUE/],
    [{ Env: 'PATH=/bin' }, /Env is string, not a list of strings/],
    [{ Cmd: ['ok', 7] }, /Cmd\[1\] is number, not a string/],
    [{ Entrypoint: ['a\u0000b'] }, /Entrypoint\[0\] contains a NUL byte/],
    [{ Cmd: Array.from({ length: 5000 }, () => 'x') }, /Cmd has 5000 entries, more than the 4096 tslab accepts/],
    [{ Cmd: ['x'.repeat(200_000)] }, /Cmd\[0\] is 200000 bytes long, more than the 131071/],
    [{ Env: Array.from({ length: 20 }, (_, i) => `V${i}=${'x'.repeat(100_000)}`) }, /Entrypoint, Cmd and Env hold \d+ bytes together, more than the 1048576/],
    [{ WorkingDir: 'relative/dir' }, /WorkingDir "relative\/dir" is not an absolute path/],
    [{ WorkingDir: ['/'] }, /WorkingDir is object, not a string/],
    [{ User: '4294967295' }, /User "4294967295" has the id 4294967295, outside 0-2147483647/],
    [{ User: '0:99999999999' }, /has the id 99999999999, outside/],
    [{ User: 'a:b:c' }, /User "a:b:c" is not user\[:group\]/],
    [{ User: 'root\n' }, /is not user\[:group\]/],
    [{ StopSignal: 'SIGKILL; rm -rf /' }, /StopSignal .* is not a signal name or number/],
    [{ ExposedPorts: { 'http': {} } }, /ExposedPorts has "http", not PORT/],
    [{ Labels: { a: 1 } }, /Labels\["a"\] is number, not a string/],
    ['a string', /its "config" is not an object/],
  ])('%j is refused', (config, message) => {
    expect(() => checkImageConfig(file(config), 'img')).toThrow(ImageConfigError);
    expect(() => checkImageConfig(file(config), 'img')).toThrow(message);
  });

  test('rootfs.diff_ids must be digests, and not too many', () => {
    expect(() => checkImageConfig({ rootfs: { diff_ids: ['nope'] } }, 'img')).toThrow(/it has no rootfs.diff_ids/);
    expect(() => checkImageConfig({ rootfs: { diff_ids: Array.from({ length: 200 }, () => D) } }, 'img')).toThrow(/lists 200 layers, more than the 128/);
    expect(() => checkImageConfig([], 'img')).toThrow(/it is not a JSON object/);
  });
});

describe('store errors never quote a blob', () => {
  test('a blob that is not JSON is named, its text is not', () => {
    const store = new ImageStore(path.join(work, 'store-json'));
    const digest = store.writeBlob(Buffer.from('root:$6$secret-hash:19000:0:99999:7:::\n'));
    expect(() => store.readJson(digest)).toThrow(/is not valid JSON, so it is no manifest, index or config/);
    expect(() => store.readJson(digest)).not.toThrow(/secret-hash/);
  });

  test('a JSON blob over the cap is refused before it is read', () => {
    const store = new ImageStore(path.join(work, 'store-big'));
    const digest = store.writeBlob(Buffer.alloc(9 * 1024 * 1024, 0x20));
    expect(() => store.readJson(digest)).toThrow(/is 9437184 bytes, more than the 8388608 a manifest, index or config may have/);
  });
});
