// Running one runtime command of a fuzz case: its own process, output in files (a container may hold
// pipes open), a deadline after which it is killed and the case counts as a hang.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runCommand(file: string, args: string[], opts: { cwd: string; timeoutMs: number; scratch: string }): Promise<CommandResult> {
  const out = path.join(opts.scratch, 'out');
  const err = path.join(opts.scratch, 'err');
  const outFd = fs.openSync(out, 'w+');
  const errFd = fs.openSync(err, 'w+');
  const started = performance.now();
  const child = spawn(file, args, { cwd: opts.cwd, stdio: ['ignore', outFd, errFd] });
  fs.closeSync(outFd);
  fs.closeSync(errFd);
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      const read = (p: string): string => {
        // A 50 MB config echoed back is not worth keeping whole.
        const text = fs.readFileSync(p, 'utf8');
        fs.rmSync(p, { force: true });
        return text.length > 4000 ? `${text.slice(0, 4000)}...` : text;
      };
      resolve({ code, signal, timedOut, stdout: read(out), stderr: read(err), ms: performance.now() - started });
    };
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, timedOut: false, stdout: '', stderr: String(e), ms: performance.now() - started });
    });
    child.on('exit', finish);
  });
}

export type Outcome = 'ran' | 'refused' | 'unclear' | 'hang' | 'crash';

/** Signs of an internal failure rather than a refusal meant for a person. */
const INTERNAL =
  /^\s+at |\bTypeError\b|\bReferenceError\b|\bRangeError\b|SyntaxError|Cannot read propert|is not a function|is not iterable|Maximum call stack|\[object Object\]|Uncaught|std::bad_alloc|FATAL ERROR/m;
/** A JavaScript failure (a stack trace, a TypeError...) in a command's output. */
export function looksInternal(stderr: string): boolean {
  return INTERNAL.test(stderr);
}

/** A refusal that does not say what was being done: a bare "undefined", an errno with no path. */
const UNCLEAR = /\bundefined\b|\bNaN\b|^[A-Z]+: [a-z ]+, (write|open|read|mkdir)\s*$|, write$/m;

/**
 * What a `run` of a fuzzed config amounted to. The container's program is `true`, so a run that went all the
 * way exits 0 (or with the program's own status, with nothing from the runtime on stderr).
 */
export function classify(r: CommandResult, runtime: 'tslab' | 'runc'): { outcome: Outcome; message: string } {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  // Warnings (unknown fields) come before the error itself.
  const errors = lines.filter((l) => !/warning|level=warn/.test(l));
  const message = errors[errors.length - 1] ?? lines[lines.length - 1] ?? '';
  if (r.timedOut) return { outcome: 'hang', message: `no exit after ${Math.round(r.ms)} ms` };
  if (r.signal !== null) return { outcome: 'crash', message: `killed by ${r.signal}: ${message}` };
  if (runtime === 'tslab' && looksInternal(r.stderr)) return { outcome: 'crash', message: r.stderr.trim().slice(0, 600) };
  if (r.code === 0) return { outcome: 'ran', message: '' };
  if (errors.length === 0) return { outcome: 'ran', message: `program exited ${r.code}` };
  if (runtime === 'tslab' && (r.code !== 1 || errors.length > 1 || UNCLEAR.test(message) || !message.startsWith('tslab-runtime: '))) {
    return { outcome: 'unclear', message: `exit ${r.code}: ${errors.join(' | ').slice(0, 600)}` };
  }
  return { outcome: 'refused', message };
}
