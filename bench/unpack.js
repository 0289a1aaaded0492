// Layer unpack: tslab's unpackLayer (the `tar` package plus the traversal checks) against GNU tar on the same
// ~100 MB gzip layer, alternating rounds so both see the same machine noise. Prints medians and the ratio;
// asserts nothing. The layer mixes a few large files with many small ones, as image layers do.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-bench-unpack-'));

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function makeLayer() {
  const src = path.join(work, 'src');
  // Half-compressible content (random bytes repeated), so gzip does real work on both sides.
  const chunk = randomBytes(64 * 1024);
  for (let d = 0; d < 40; d++) {
    const dir = path.join(src, `usr/lib/pkg${d}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 50; f++) fs.writeFileSync(path.join(dir, `file${f}.so`), Buffer.concat([chunk.subarray(0, 8192), Buffer.alloc(8192, f)]));
  }
  for (let i = 0; i < 8; i++) {
    const big = Buffer.alloc(10 * 1024 * 1024);
    for (let off = 0; off < big.length; off += chunk.length * 2) chunk.copy(big, off);
    fs.writeFileSync(path.join(src, `usr/lib/big${i}.bin`), big);
  }
  fs.symlinkSync('usr/lib', path.join(src, 'lib'));
  const layer = path.join(work, 'layer.tar.gz');
  execFileSync('tar', ['-czf', layer, '-C', src, '.']);
  fs.rmSync(src, { recursive: true, force: true });
  return layer;
}

async function unpackProgram() {
  const entry = path.join(work, 'unpack-entry.ts');
  fs.writeFileSync(
    entry,
    `import { unpackLayer } from ${JSON.stringify(path.join(repo, 'src/image/unpack.ts'))};\n` +
      'unpackLayer(process.argv[2], process.argv[3]).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });\n',
  );
  const out = path.join(repo, 'dist', 'bench-unpack.cjs');
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: out, external: ['koffi'], logLevel: 'error',
    define: { 'import.meta.url': '__importMetaUrl' }, banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" } });
  return out;
}

function timed(command, args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return ms;
}

try {
  const layer = makeLayer();
  const program = await unpackProgram();
  const size = fs.statSync(layer).size;
  const samples = { 'GNU tar': [], tslab: [] };
  for (let i = 0; i < rounds; i++) {
    for (const name of Object.keys(samples)) {
      const target = path.join(work, `out-${name.replace(' ', '')}-${i}`);
      fs.mkdirSync(target);
      samples[name].push(
        name === 'tslab' ? timed(process.execPath, [program, layer, target]) : timed('tar', ['-xzf', layer, '-C', target]),
      );
      fs.rmSync(target, { recursive: true, force: true });
    }
  }
  const gnu = median(samples['GNU tar']);
  const ours = median(samples.tslab);
  console.log(`layer: ${(size / 1e6).toFixed(1)} MB gzip, ${rounds} rounds`);
  console.log(`GNU tar -xzf: median ${gnu.toFixed(0)} ms`);
  console.log(`tslab unpackLayer: median ${ours.toFixed(0)} ms`);
  console.log(`ratio: ${(ours / gnu).toFixed(2)}x (target <= 1.5x)`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
  fs.rmSync(path.join(repo, 'dist', 'bench-unpack.cjs'), { force: true });
}
