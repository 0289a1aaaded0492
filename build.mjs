// Build: type-check with tsc, then bundle each executable with esbuild. A container start pays for two
// Node start-ups (the CLI and the PID-1 stage); one file per entry plus shared chunks, loaded on demand,
// costs far less than resolving a few dozen modules one by one.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/cli/runtime.ts', 'src/cli/tslab.ts', 'src/runtime/init/stage.ts'],
  outbase: 'src',
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['koffi'],
  logLevel: 'warning',
});
