// A runtime's command line (runc's) driven from a check, on a scratch directory of the check's own with a
// private --root: lessons 9 and 14 run the learner's tslab-runtime this way. Output goes to files, not pipes:
// the container's processes inherit them and would keep a pipe open; we wait for the runtime process itself.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { referenceBuild, runtimeExecutable } from '../step-build.js';
import { readText } from './common.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface OutputFiles {
  out: string;
  err: string;
  /** Open on `out` and `err`, for a child's stdout and stderr; the caller closes them once it is spawned. */
  fds: [number, number];
}

/** Two fresh files in `scratch` for a child's stdout and stderr. */
export function outputFiles(scratch: string): OutputFiles {
  const base = path.join(scratch, `out-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const out = `${base}.stdout`;
  const err = `${base}.stderr`;
  return { out, err, fds: [fs.openSync(out, 'w+'), fs.openSync(err, 'w+')] };
}

/** What the child wrote to `files` (which are removed), with its exit code and `extra` after its stderr. */
export function collectOutput(files: Pick<OutputFiles, 'out' | 'err'>, code: number | null, extra = ''): RunResult {
  const result = { code, stdout: readText(files.out) ?? '', stderr: (readText(files.err) ?? '') + extra };
  fs.rmSync(files.out, { force: true });
  fs.rmSync(files.err, { force: true });
  return result;
}

/**
 * Runs `<bin> --root ROOT args...` to its end, killed after `timeoutMs`, or as soon as `watch` (called with
 * its pid every 50 ms) gives a reason: the kernel's view of the process can show it will never return.
 */
export function runRuntime(
  bin: string,
  root: string,
  scratch: string,
  args: string[],
  timeoutMs = 20_000,
  watch?: (pid: number) => string | undefined,
): Promise<RunResult> {
  const files = outputFiles(scratch);
  return new Promise((resolve) => {
    const child = spawn(bin, ['--root', root, ...args], { stdio: ['ignore', ...files.fds] });
    files.fds.forEach((fd) => fs.closeSync(fd));
    // What ended it, when the check did: said after "ended by SIGKILL".
    let why: string | undefined;
    const end = (reason: string): void => {
      why ??= reason;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => end(`: no answer in ${timeoutMs / 1000} s`), timeoutMs);
    const watcher = watch
      ? setInterval(() => {
          const reason = why === undefined && child.pid && child.exitCode === null && child.signalCode === null ? watch(child.pid) : undefined;
          if (reason) end(` from the check: ${reason}`);
        }, 50)
      : undefined;
    const finish = (code: number | null, extra = ''): void => {
      clearTimeout(timer);
      clearInterval(watcher);
      resolve(collectOutput(files, code, extra));
    };
    child.on('error', (err) => finish(127, err.message));
    child.on('exit', (code, signal) => finish(code, signal ? `(ended by ${signal}${signal === 'SIGKILL' ? (why ?? '') : ''})` : ''));
  });
}

/** A run's exit status and the last two lines of its stderr, for a verdict. */
export function said(r: RunResult): string {
  const text = r.stderr.trim().split('\n').filter(Boolean).slice(-2).join(' / ');
  return `exit status ${r.code ?? '?'}${text ? `: ${text}` : ''}`;
}

/** The command line of process `pid`, its arguments joined by spaces ('' once it is gone). */
export function cmdline(pid: number): string {
  return (readText(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean).join(' ');
}

/**
 * Removes what an earlier run of a check left in its scratch directories (os.tmpdir()/<prefix>*, each with
 * an 'owner' file and its runtime root in 'state') when that run's process was killed midway (its owner is
 * gone): the reference runtime deletes each container, then the directory goes.
 */
async function removeStaleRuns(prefix: string): Promise<void> {
  for (const name of fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(prefix))) {
    const dir = path.join(os.tmpdir(), name);
    const owner = Number(readText(path.join(dir, 'owner')));
    if (!Number.isInteger(owner) || owner <= 0 || fs.existsSync(`/proc/${owner}`)) continue;
    const stateRoot = path.join(dir, 'state');
    for (const id of fs.existsSync(stateRoot) ? fs.readdirSync(stateRoot) : []) {
      await runRuntime(runtimeExecutable(referenceBuild()), stateRoot, dir, ['delete', '--force', id]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A fresh scratch directory os.tmpdir()/<prefix>XXXXXX for one run, owned by this process, after removing
 * what killed runs left: its bundle's path and its runtime root's (neither made yet).
 */
export async function newScratch(prefix: string): Promise<{ dir: string; bundle: string; root: string }> {
  await removeStaleRuns(prefix).catch(() => undefined);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.writeFileSync(path.join(dir, 'owner'), String(process.pid));
  return { dir, bundle: path.join(dir, 'bundle'), root: path.join(dir, 'state') };
}
