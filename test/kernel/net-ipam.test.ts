// The IPAM's record under real concurrency: 50 child processes (each a separate Node, as concurrent
// `tslab run`s are) allocate from one state file at the same moment and never get the same address;
// release frees; a full subnet gives a clear error; the record survives a new Ipam and refuses garbage.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BridgeConfig } from '../../src/net/bridge.js';
import { Ipam, IpamError } from '../../src/net/ipam.js';
import { REPO_ROOT } from '../helpers/runtime.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-net-ipam-'));
const child = path.join(work, 'ipam-child.cjs');
const barrier = path.join(work, 'go');
// A /26: 62 host addresses, one of them the gateway: 61 for containers.
const cfg: BridgeConfig = { name: 'tsltipam', subnet: '10.213.7.64/26', gateway: '10.213.7.65' };

beforeAll(() => {
  buildSync({
    stdin: {
      contents: `
        import * as fs from 'node:fs';
        import { Ipam } from './src/net/ipam.ts';
        const [stateDir, cfg, owner, barrier] = process.argv.slice(2);
        // Everyone waits for the barrier, so the allocations really happen at the same moment.
        while (!fs.existsSync(barrier)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        process.stdout.write(new Ipam(stateDir, JSON.parse(cfg)).allocate(owner));
      `,
      resolveDir: REPO_ROOT,
      sourcefile: 'ipam-child.ts',
      loader: 'ts',
    },
    outfile: child,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['koffi'],
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'src/linux/libc.ts')).href) },
    logLevel: 'warning',
  });
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function allocateInChild(stateDir: string, owner: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, stateDir, JSON.stringify(cfg), owner, barrier], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 25_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`child ${owner} exited ${code}: ${err}`));
    });
  });
}

describe('Ipam', () => {
  const stateDir = path.join(work, 'state');

  test('50 concurrent allocations from 50 processes never collide', async () => {
    const owners = Array.from({ length: 50 }, (_, i) => `c${i}`);
    const pending = owners.map((o) => allocateInChild(stateDir, o));
    await new Promise((r) => setTimeout(r, 300)); // most children are up and waiting by now
    fs.writeFileSync(barrier, '');
    const addresses = await Promise.all(pending);
    expect(new Set(addresses).size).toBe(50);
    for (const a of addresses) {
      const last = Number(a.split('.')[3]);
      expect(a.startsWith('10.213.7.')).toBe(true);
      expect(last).toBeGreaterThanOrEqual(66); // not the network (.64) nor the gateway (.65)
      expect(last).toBeLessThanOrEqual(126); // not the broadcast (.127)
    }
    const recorded = new Ipam(stateDir, cfg).allocated();
    expect(Object.keys(recorded).sort()).toEqual([...owners].sort());
    expect(owners.map((o) => recorded[o])).toEqual(addresses);
    expect(JSON.parse(fs.readFileSync(path.join(stateDir, 'ipam-tsltipam.json'), 'utf8')).allocations).toEqual(recorded);
    expect(fs.readdirSync(stateDir)).toEqual(['ipam-tsltipam.json']); // no temp files left
  }, 60_000);

  test('the same owner gets its address again; the subnet runs out with a clear error; release frees', () => {
    const ipam = new Ipam(stateDir, cfg);
    const c0 = ipam.allocated().c0!;
    expect(ipam.allocate('c0')).toBe(c0);
    for (let i = 50; i < 61; i++) ipam.allocate(`c${i}`);
    expect(Object.keys(ipam.allocated())).toHaveLength(61);
    expect(() => ipam.allocate('one-too-many')).toThrow(IpamError);
    expect(() => ipam.allocate('one-too-many')).toThrow(
      'no free address left in 10.213.7.64/26 on bridge tsltipam: all 61 container addresses are in use (the gateway 10.213.7.65 takes one more). Remove containers, or set TSLAB_SUBNET to a larger subnet.',
    );
    ipam.release('c7');
    ipam.release('c7'); // idempotent
    ipam.release('never-had-one');
    const freed = new Ipam(stateDir, cfg);
    expect(freed.allocated().c7).toBeUndefined();
    expect(freed.allocate('newcomer')).toBeDefined();
    expect(new Set(Object.values(freed.allocated())).size).toBe(61);
    expect(() => freed.allocate('again-too-many')).toThrow('no free address left');
  });

  test('a released address is handed out again only after the others (round-robin)', () => {
    const dir = path.join(work, 'rr');
    const small: BridgeConfig = { name: 'tsltrr', subnet: '10.213.8.0/29', gateway: '10.213.8.1' }; // .2 - .6
    const ipam = new Ipam(dir, small);
    expect(['a', 'b'].map((o) => ipam.allocate(o))).toEqual(['10.213.8.2', '10.213.8.3']);
    ipam.release('a');
    expect(['c', 'd', 'e', 'f'].map((o) => ipam.allocate(o))).toEqual(['10.213.8.4', '10.213.8.5', '10.213.8.6', '10.213.8.2']);
    expect(ipam.ownerOf('10.213.8.2')).toBe('f');
    expect(ipam.retain(['b', 'f', 'not-there'])).toEqual(['c', 'd', 'e']);
    expect(ipam.allocated()).toEqual({ b: '10.213.8.3', f: '10.213.8.2' });
  });

  test('bad owners and a broken record are refused with a message', () => {
    const dir = path.join(work, 'broken');
    const ipam = new Ipam(dir, cfg);
    expect(() => ipam.allocate('')).toThrow('an address owner must be a non-empty string');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'ipam-tsltipam.json'), '{ not json');
    expect(() => ipam.allocate('x')).toThrow(/ipam-tsltipam\.json is not valid JSON .*fix or remove it while no container uses tsltipam/);
    expect(() => new Ipam(dir, { ...cfg, subnet: '10.213.7.64/31' })).toThrow('between /8 and /30');
  });
});
