// Detached containers through their life, as with docker: run -d, ps, logs (-f), exec, stop (the stop
// signal, then SIGKILL after -t), kill -s, rm (refused while running, -f), --rm -d, inspect.
import * as fs from 'node:fs';
import { describe, expect, test } from 'vitest';
import { alive, describeResult, engineScope, sleep } from './engine-env.js';

const e = engineScope('lifecycle');

/** A shell loop that exits with `status` on `signal` (sleeping in short steps so the trap runs soon). */
const exitsOn = (signal: string, status: number) => `trap "exit ${status}" ${signal}; echo ready; while true; do sleep 0.1; done`;
const ignoresTerm = 'trap "" TERM; echo ready; while true; do sleep 0.1; done';

async function waitForLog(name: string, needle: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await e.ok(['logs', name])).includes(needle)) return;
    if (Date.now() > deadline) throw new Error(`"${needle}" never appeared in the logs of ${name}`);
    await sleep(50);
  }
}

describe('run -d', () => {
  test('prints the id; ps shows it Up; logs has its output; inspect gives its record', async () => {
    const id = (await e.ok(['run', '-d', '--name', 'daemon', 'busybox', 'sh', '-c', 'echo to stdout; echo to stderr >&2; sleep 30'])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);

    const ps = await e.ok(['ps']);
    const line = ps.split('\n').find((l) => l.includes('daemon'));
    expect(line, ps).toMatch(new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+.*\\s+Up\\s`));

    await waitForLog('daemon', 'to stderr');
    const logs = await e.tslab(['logs', 'daemon']);
    expect(logs.stdout.split('\n').sort()).toEqual(['', 'to stderr', 'to stdout']);
    expect(logs.code).toBe(0);

    const info = await e.inspect('daemon');
    expect(info).toMatchObject({ Type: 'container', id, name: 'daemon', image: 'busybox', status: 'running' });
    expect(alive(info.pid!)).toBe(true);
    // a unique id prefix names it too
    expect((await e.inspect(id.slice(0, 8))).id).toBe(id);

    await e.ok(['rm', '-f', 'daemon']);
    expect(await e.psAll()).toEqual([]);
  });

  test('a command that does not exist -> 127, as docker run -d reports it', async () => {
    const r = await e.tslab(['run', '-d', '--name', 'missing', 'busybox', 'nope']);
    const c = (await e.psAll()).find((x) => x.name === 'missing');
    expect(c?.status).toBe('exited');
    expect(c?.exitCode).toBe(127);
    await e.ok(['rm', 'missing']);
    expect(r.stderr).toMatch(/nope.*not found/);
    expect(r.code, describeResult(r)).toBe(127);
  });

  test('logs -f follows the output and ends when the container ends', async () => {
    await e.ok(['run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'for i in 1 2 3 4; do echo line $i; sleep 0.3; done']);
    const follow = await e.tslab(['logs', '-f', 'talker'], { timeoutMs: 15_000 });
    expect(follow.timedOut).toBe(false);
    expect(follow.code).toBe(0);
    expect(follow.stdout).toBe('line 1\nline 2\nline 3\nline 4\n');
    const c = await e.waitFor('talker', (x) => x?.status === 'exited');
    expect(c?.exitCode).toBe(0);
    expect((await e.ok(['ps', '-a'])).split('\n').find((l) => l.includes('talker'))).toMatch(/Exited \(0\)/);
    await e.ok(['rm', 'talker']);
  });

  test('exec runs inside the container: its hostname, its files, its exit status', async () => {
    const id = (await e.ok(['run', '-d', '--name', 'host-a', 'busybox', 'sh', '-c', 'echo inside > /tmp/marker; sleep 30'])).trim();
    await e.waitFor('host-a', (x) => x?.status === 'running');
    expect(await e.ok(['exec', 'host-a', 'hostname'])).toBe(`${id.slice(0, 12)}\n`);
    const deadline = Date.now() + 5000;
    let marker = await e.tslab(['exec', 'host-a', 'cat', '/tmp/marker']);
    while (marker.stdout !== 'inside\n' && Date.now() < deadline) {
      await sleep(50);
      marker = await e.tslab(['exec', 'host-a', 'cat', '/tmp/marker']);
    }
    expect(marker.stdout).toBe('inside\n');
    const status = await e.tslab(['exec', 'host-a', 'sh', '-c', 'exit 7']);
    expect(status.code, describeResult(status)).toBe(7);
    expect(await e.ok(['exec', '-i', 'host-a', 'cat'], { input: 'piped\n' })).toBe('piped\n');
    await e.ok(['rm', '-f', 'host-a']);
  });

  test('exec into a container that is not running is refused', async () => {
    await e.ok(['run', '--name', 'done', 'busybox', 'true']);
    const r = await e.tslab(['exec', 'done', 'true']);
    expect(r.stderr).toMatch(/not running/);
    expect(r.code).not.toBe(0);
    await e.ok(['rm', 'done']);
  });
});

describe('stop, kill, rm', () => {
  test('stop -t 1 of a container that ignores TERM: SIGKILL after 1 s, Exited (137)', async () => {
    await e.ok(['run', '-d', '--name', 'stubborn', 'busybox', 'sh', '-c', ignoresTerm]);
    await waitForLog('stubborn', 'ready');
    const stop = await e.tslab(['stop', '-t', '1', 'stubborn']);
    expect(stop.code, describeResult(stop)).toBe(0);
    expect(stop.stdout).toBe('stubborn\n');
    expect(stop.ms).toBeGreaterThanOrEqual(1000);
    expect(stop.ms).toBeLessThan(8000);
    const line = (await e.ok(['ps', '-a'])).split('\n').find((l) => l.includes('stubborn'));
    expect(line).toMatch(/Exited \(137\)/);
    expect((await e.ok(['ps'])).includes('stubborn')).toBe(false);
    await e.ok(['rm', 'stubborn']);
  });

  test('stop of a container that handles TERM: quick, with its own status', async () => {
    await e.ok(['run', '-d', '--name', 'polite', 'busybox', 'sh', '-c', exitsOn('TERM', 42)]);
    await waitForLog('polite', 'ready');
    const stop = await e.tslab(['stop', 'polite']);
    expect(stop.code, describeResult(stop)).toBe(0);
    expect(stop.ms).toBeLessThan(5000); // not the 10 s default timeout
    const c = await e.inspect('polite');
    expect(c.status).toBe('exited');
    expect(c.exitCode).toBe(42);
    expect((await e.ok(['ps', '-a'])).split('\n').find((l) => l.includes('polite'))).toMatch(/Exited \(42\)/);
    await e.ok(['rm', 'polite']);
  });

  test('kill -s TERM sends TERM; kill (KILL) -> 137', async () => {
    await e.ok(['run', '-d', '--name', 'termed', 'busybox', 'sh', '-c', exitsOn('TERM', 43)]);
    await e.ok(['run', '-d', '--name', 'killed', 'busybox', 'sh', '-c', ignoresTerm]);
    await waitForLog('termed', 'ready');
    await waitForLog('killed', 'ready');
    expect(await e.ok(['kill', '-s', 'TERM', 'termed'])).toBe('termed\n');
    expect(await e.ok(['kill', 'killed'])).toBe('killed\n');
    expect((await e.waitFor('termed', (x) => x?.status === 'exited'))?.exitCode).toBe(43);
    expect((await e.waitFor('killed', (x) => x?.status === 'exited'))?.exitCode).toBe(137);
    const again = await e.tslab(['kill', 'killed']);
    expect(again.stderr).toMatch(/not running/);
    expect(again.code).not.toBe(0);
    await e.ok(['rm', 'termed', 'killed']);
  });

  test('rm of a running container is refused; rm -f removes it and its process', async () => {
    await e.ok(['run', '-d', '--name', 'busy', 'busybox', 'sleep', '30']);
    const { pid, rootfs } = await e.inspect('busy');
    const refused = await e.tslab(['rm', 'busy']);
    expect(refused.stderr).toMatch(/busy is running/);
    expect(refused.code).not.toBe(0);
    expect((await e.inspect('busy')).status).toBe('running');
    expect(alive(pid!)).toBe(true);

    expect(await e.ok(['rm', '-f', 'busy'])).toBe('busy\n');
    expect(alive(pid!)).toBe(false);
    expect(fs.existsSync(rootfs)).toBe(false);
    expect(await e.psAll()).toEqual([]);
    const gone = await e.tslab(['rm', 'busy']);
    expect(gone.stderr).toMatch(/no such container: busy/);
    expect(gone.code).not.toBe(0);
  });

  test('--rm with -d removes the container by itself after it exits', async () => {
    // It exits when told (a marker file), not after a fixed time: on a loaded machine `ps` may come later.
    const id = (await e.ok(['run', '-d', '--rm', '--name', 'brief', 'busybox', 'sh', '-c', 'while [ ! -e /go ]; do sleep 0.05; done'])).trim();
    expect((await e.psAll()).map((c) => c.id)).toContain(id);
    await e.ok(['exec', 'brief', 'touch', '/go']);
    await e.waitFor('brief', (c) => c === undefined);
    expect(fs.existsSync(`${e.dataDir}/containers/${id}`)).toBe(false);
  });
});

describe('inspect', () => {
  test('an image: its id, digest, manifest and config', async () => {
    const [image] = JSON.parse(await e.ok(['--json', 'inspect', 'busybox'])) as Array<{
      Type: string;
      Id: string;
      RepoDigests: string[];
      Config: { os: string; config: { Cmd: string[] } };
    }>;
    expect(image.Type).toBe('image');
    expect(image.Id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(image.RepoDigests[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(image.Config.os).toBe('linux');
    expect(image.Config.config.Cmd).toEqual(['sh']);
    const images = JSON.parse(await e.ok(['--json', 'images'])) as Array<{ ref: string; id: string }>;
    expect(images.find((i) => i.ref === 'busybox:latest')?.id).toBe(image.Id);
  });

  test('a container and an image at once; something unknown is an error', async () => {
    expect((await e.tslab(['run', '--name', 'finished', 'busybox', 'sh', '-c', 'exit 4'])).code).toBe(4);
    const both = JSON.parse(await e.ok(['inspect', 'finished', 'busybox'])) as Array<{ Type: string; exitCode?: number; status?: string }>;
    expect(both.map((o) => o.Type)).toEqual(['container', 'image']);
    expect(both[0]).toMatchObject({ status: 'exited', exitCode: 4 });
    const unknown = await e.tslab(['inspect', 'no-such-thing']);
    expect(unknown.stderr).toMatch(/no such container or image: no-such-thing/);
    expect(unknown.code).not.toBe(0);
    await e.ok(['rm', 'finished']);
  });
});
