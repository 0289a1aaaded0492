// The lab's probe of a step function: every call of a batch answered in order in one process, what the step
// prints itself not taken for a reply, and a call that ends the probe named (the calls after it not run).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { REPLY_MARK } from '../../src/lab/container/probe-protocol.js';
import { probeEach, probeOnce, readProbeReplies } from '../../src/lab/probe-calls.js';
import { referenceBuild } from '../../src/lab/step-build.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A build whose probe.cjs is `source`: a stand-in for a learner's step that misbehaves. */
function fakeBuild(source: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-probe-test-'));
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, 'lab', 'container'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'lab', 'container', 'probe.cjs'), source);
  return { dir, mineSteps: ['preflight.ts'] };
}

const reply = (r: object) => `${REPLY_MARK}${JSON.stringify(r)}`;

describe('readProbeReplies', () => {
  test('replies in order; the step\'s own output, even on the same line before the mark, is not a reply', () => {
    const out = ['{"ok":true,"result":"printed by the step"}', `noise ${reply({ ok: true, result: 1 })}`, reply({ ok: false, name: 'NotWrittenYet', error: 'later' }), ''].join('\n');
    const [first, second] = readProbeReplies(out, 'f', 2, 'crashed: -');
    expect(first).toEqual({ ok: true, result: 1 });
    expect(second.ok).toBe(false);
    expect(!second.ok && `${second.error.name}: ${second.error.message}`).toBe('NotWrittenYet: later');
  });

  test('the first call without a reply is the one that ended the probe; the rest were not called', () => {
    const outcomes = readProbeReplies(reply({ ok: true, result: true }), 'exitStatus', 3, 'did not return within 10 s');
    expect(outcomes[0]).toEqual({ ok: true, result: true });
    expect(!outcomes[1].ok && outcomes[1].error.message).toBe('exitStatus() did not return within 10 s');
    expect(!outcomes[2].ok && outcomes[2].error.message).toMatch(/exitStatus\(\) was not called/);
  });

  test('more replies than calls (a step that prints the mark) are not taken', () => {
    expect(readProbeReplies([1, 2, 3].map((n) => reply({ ok: true, result: n })).join('\n'), 'f', 2, 'x')).toEqual([
      { ok: true, result: 1 },
      { ok: true, result: 2 },
    ]);
  });
});

describe('probeEach', () => {
  test('the reference build answers each call of one process', async () => {
    const outcomes = await probeEach(referenceBuild(), 'filesystemSupported', [['proc'], ['tslab-no-such-fs'], ['nodev']]);
    expect(outcomes).toEqual([
      { ok: true, result: true },
      { ok: true, result: false },
      { ok: true, result: false },
    ]);
    await expect(probeOnce(referenceBuild(), 'noSuchStep', [])).rejects.toThrow(/no step function "noSuchStep"/);
  });

  test('a probe that dies after its first reply: the second call is named with what it printed, the third not run', async () => {
    const build = fakeBuild(`process.stdout.write(${JSON.stringify(`${reply({ ok: true, result: 'one' })}\n`)}); console.error('boom in the step'); process.exit(3);`);
    const outcomes = await probeEach(build, 'step', [[1], [2], [3]]);
    expect(outcomes[0]).toEqual({ ok: true, result: 'one' });
    expect(!outcomes[1].ok && outcomes[1].error.message).toMatch(/^step\(\) crashed: boom in the step/);
    expect(!outcomes[2].ok && outcomes[2].error.message).toMatch(/was not called/);
  });
});
