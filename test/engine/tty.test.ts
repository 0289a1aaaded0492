// `tslab run -it` on a real pseudo-terminal (test/lab/pty-session.ts: the project's own pty and relay),
// typed into like a user at a keyboard: the container gets a pty of its own (/dev/pts/0 in its devpts),
// the size of the user's terminal, and tslab exits with the shell's status.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import { COLS, PtySession, ROWS } from '../lab/pty-session.js';
import { isMountedUnder } from '../helpers/leaks.js';
import { BRIDGE, describeResult, engineScope, linkExists, type EngineScope } from './engine-env.js';

// The console socket lives in the container's dir (<data>/containers/<64 hex>/console.sock), and a unix
// socket path holds at most 107 bytes: a data dir of 14 bytes keeps it short enough.
const short = engineScope('tty-short', { dataDir: `/tmp/tsl-${randomBytes(3).toString('hex')}` });
// The run's usual data dir (/tmp/tslabtest-<token>/engine-tty-<hex>): as long as, say, a root's
// $XDG_DATA_HOME/tslab (/root/.local/share/tslab).
const usual = engineScope('tty');
const sessions: PtySession[] = [];

afterEach(async () => {
  for (const s of sessions.splice(0)) await s.close();
});

async function itSession(e: EngineScope): Promise<void> {
  const session = PtySession.start(['run', '-it', '--rm', 'busybox', 'sh'], { TSLAB_DATA_DIR: e.dataDir });
  sessions.push(session);
  await session.waitFor('#', { timeoutMs: 20_000 }); // root's prompt
  await session.press('tty; stty size; echo "term=$TERM"; exit 5\r');
  await session.waitFor(/\/dev\/pts\/0\s/);
  await session.waitFor(`${ROWS} ${COLS}`);
  await session.waitFor('term=xterm');
  const { code } = await session.exited(20_000);
  expect(code, session.text()).toBe(5);
  expect(await e.psAll()).toEqual([]);
}

describe('run -it --rm busybox sh', () => {
  test('tty is /dev/pts/0, stty size is the terminal size, TERM=xterm, exit 5 (short data dir)', async () => {
    await itSession(short);
  });

  test('the same with a data dir of 37 bytes', async () => {
    await itSession(usual);
  });
});

test('a run -t --rm that fails before the container starts leaves nothing behind (and says 125)', async () => {
  // With the usual data dir the console socket path is too long (see above): the run fails early.
  const r = await usual.tslab(['run', '-t', '--rm', 'busybox', 'true']);
  expect(await usual.psAll(), describeResult(r)).toEqual([]);
  expect(isMountedUnder(usual.dataDir)).toBe(false);
  expect(linkExists(BRIDGE)).toBe(false);
  if (r.code !== 0) expect(r.code, describeResult(r)).toBe(125);
});

test('-t with -d is refused (125)', async () => {
  const r = await short.tslab(['run', '-dt', 'busybox', 'sh']);
  expect(r.stderr).toMatch(/-t with -d is not supported/);
  expect(await short.psAll()).toEqual([]);
  expect(r.code).toBe(125);
});
