// Tools of the escape suite (escapes.test.ts), written from the attacker's side: a canary file on the host
// that no process inside a container may ever print, host fds handed to the runtime the way a careless caller
// would (`exec 200</`), a way into a container's namespaces that keeps only the container's capabilities,
// a throwaway "host" network and UTS namespace for attacks that would change the real host, and the busybox
// shell functions that try every path to the canary.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunResult } from '../helpers/runtime.js';

/** A host file with random content: if its content ever appears in a container's output, the host leaked. */
export interface Canary {
  /** Absolute host path of the canary file. */
  file: string;
  /** The directory holding it (and nothing else, unless an attacker wrote there). */
  dir: string;
  content: string;
  /** `file` without its leading '/': appended to a chain of '../' it names the file from any host directory. */
  rel: string;
  relDir: string;
  /** Random text put into the runtime's environment: no container process may read it either. */
  envValue: string;
}

export function makeCanary(dir: string): Canary {
  fs.mkdirSync(dir, { recursive: true });
  const content = `canary-${randomBytes(12).toString('hex')}`;
  const file = path.join(dir, 'canary');
  fs.writeFileSync(file, `${content}\n`, { mode: 0o644 });
  return { file, dir, content, rel: file.slice(1), relDir: dir.slice(1), envValue: `envcanary-${randomBytes(12).toString('hex')}` };
}

/** What an attacker wrote into the canary's directory (anything but the canary itself). */
export function writtenNextToCanary(c: Canary): string[] {
  return fs.readdirSync(c.dir).filter((e) => e !== 'canary');
}

/**
 * `argv` started from a shell that has left host descriptors open, as `exec 200</` does: 200 on the host's
 * `/`, 201 on the canary's directory, 202 on the canary itself. None of them may reach a container. bash, as
 * dash's `exec` takes single-digit fds only.
 */
export function withHostFds(c: Canary, argv: string[]): string[] {
  return ['bash', '-c', 'exec 200</ 201<"$1" 202<"$2"; shift 2; exec "$@"', 'with-host-fds', c.dir, c.file, ...argv];
}

/**
 * Joins every namespace of `pid` (cgroup, ipc, uts, net, pid, mount: setns puts us at the mount namespace's
 * root), forks so the child is in the PID namespace, drops from the bounding set every capability the target
 * lacks (so, like a container process, it has no CAP_SYS_PTRACE), then execs `cmd` inside. Perl because it is
 * always installed and single-threaded (setns into a mount namespace), and nsenter cannot drop capabilities.
 */
const ENTER_PERL = String.raw`
use strict;
my ($pid, @cmd) = @ARGV;
open(my $st, '<', "/proc/$pid/status") or die "enter: /proc/$pid/status: $!\n";
my ($bnd) = map { /^CapBnd:\s*([0-9a-f]+)/ ? hex($1) : () } <$st>;
open(my $lc, '<', '/proc/sys/kernel/cap_last_cap') or die "enter: cap_last_cap: $!\n";
my $last = <$lc>; chomp $last;
my @ns;
for my $n (qw(cgroup ipc uts net pid mnt)) {
  open(my $fh, '<', "/proc/$pid/ns/$n") or die "enter: /proc/$pid/ns/$n: $!\n";
  push @ns, [$n, $fh];
}
for (@ns) { syscall(308, fileno($_->[1]), 0) == 0 or die "enter: setns $_->[0]: $!\n"; }
my $child = fork() // die "enter: fork: $!\n";
if ($child == 0) {
  for my $cap (0..$last) { next if ($bnd >> $cap) & 1; syscall(157, 24, $cap) == 0 or die "enter: drop cap $cap: $!\n"; }
  exec { $cmd[0] } @cmd or die "enter: exec $cmd[0]: $!\n";
}
waitpid($child, 0);
exit($? >> 8);
`;

export function enterArgv(pid: number, cmd: string[]): string[] {
  return ['perl', '-e', ENTER_PERL, String(pid), ...cmd];
}

/**
 * `argv` run inside a fresh network, UTS and IPC namespace, which stand in for the host: an attack that
 * changes "the host's" sysctl or domainname changes only them. In `config`, `@SELF_NET@`, `@SELF_UTS@` and
 * `@SELF_IPC@` become paths to those namespaces (what a config naming the runtime's own namespaces says),
 * `@MARTIANS@` the opposite of their log_martians, `@MSGMAX@` their kernel.msgmax plus one. Prints `BEFORE ...`
 * and `AFTER ...` (log_martians, domainname, hostname, msgmax).
 */
export function inThrowawayHost(config: string, argv: string[]): string[] {
  const state = 'echo "$(cat /proc/sys/net/ipv4/conf/all/log_martians) $(cat /proc/sys/kernel/domainname) $(cat /proc/sys/kernel/hostname) $(cat /proc/sys/kernel/msgmax)"';
  const script = [
    `before=$(${state})`,
    'want=1; [ "$(cat /proc/sys/net/ipv4/conf/all/log_martians)" = 1 ] && want=0',
    'msgmax=$(($(cat /proc/sys/kernel/msgmax) + 1))',
    'sed -i "s#@SELF_NET@#/proc/$$/ns/net#g; s#@SELF_UTS@#/proc/$$/ns/uts#g; s#@SELF_IPC@#/proc/$$/ns/ipc#g; s#@MARTIANS@#$want#g; s#@MSGMAX@#$msgmax#g" "$1"',
    'shift',
    '"$@"; status=$?',
    'echo "BEFORE $before"',
    `echo "AFTER $(${state})"`,
    'exit $status',
  ].join('\n');
  return ['unshare', '--net', '--uts', '--ipc', '--', 'sh', '-c', script, 'throwaway-host', config, ...argv];
}

/** The BEFORE and AFTER lines of inThrowawayHost's output. */
export function hostStateBeforeAfter(stdout: string): { before: string; after: string } {
  const line = (tag: string) => new RegExp(`^${tag} (.*)$`, 'm').exec(stdout)?.[1] ?? `(no ${tag} line)`;
  return { before: line('BEFORE'), after: line('AFTER') };
}

let ioCounter = 0;

/**
 * Runs `argv` to its exit with stdout/stderr in files under `ioDir` (not pipes: a container may keep them
 * open for ever), killing it (the process we started, by pid) after `timeoutMs`.
 */
export function runCaptured(
  argv: string[],
  ioDir: string,
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunResult> {
  fs.mkdirSync(ioDir, { recursive: true });
  const n = ++ioCounter;
  const outPath = path.join(ioDir, `esc-${n}.out`);
  const errPath = path.join(ioDir, `esc-${n}.err`);
  const outFd = fs.openSync(outPath, 'w+');
  const errFd = fs.openSync(errPath, 'w+');
  const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...opts.env }, stdio: ['ignore', outFd, errFd] });
  fs.closeSync(outFd);
  fs.closeSync(errFd);
  const take = (p: string) => {
    const text = fs.readFileSync(p, 'utf8');
    fs.rmSync(p, { force: true });
    return text;
  };
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 20_000);
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? null : code, signal, stdout: take(outPath), stderr: take(errPath), timedOut, argv });
    };
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout: take(outPath), stderr: String(err), timedOut: false, argv });
    });
    child.on('exit', done);
  });
}

/** The md5 of a file's first MiB: enough to tell the host's node binary from anything else. */
export function md5OfFirstMiB(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return createHash('md5').update(buf.subarray(0, n)).digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}

/** Runs `fn` over `items`, at most `limit` at a time; results in order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** What `fds` prints for an fd whose target readlink may not see (the listing itself is not ptrace-checked). */
export const UNREADABLE = '(unreadable)';

const UPS = 12; // deeper than any test path: '..' at '/' stays at '/'

/**
 * busybox sh functions for the attacker (prepend to a script):
 *   try PATH     reads PATH/(../)*k<canary> for k = 0..UPS-1 ("LEAK read ..." when it works) and tries to
 *                write `pwned` next to the canary the same way (checked on the host afterwards)
 *   fds PID      one "FD PID N TARGET" line per open fd of PID (TARGET "(unreadable)" when readlink is refused)
 *   bytes NAME F "BYTES NAME N": how many bytes of F (at most 1 MiB) can be read
 *   exesum PID   "EXE PID MD5": md5 of the first MiB of /proc/PID/exe (of nothing when unreadable)
 *   memread PID  "BYTES mem N": bytes read from the first mapping of /proc/PID/mem
 *   tops         "TOP ..." (what is above the cwd, twelve '..' up) and "ROOT ..." (what is in '/')
 */
export function attackLib(c: Canary): string {
  return String.raw`
REL='${c.rel}'
RELDIR='${c.relDir}'
try() {
  up=''
  i=0
  while [ $i -lt ${UPS} ]; do
    if cat "$1/$up$REL" 2>/dev/null; then echo "LEAK read $1/$up$REL"; fi
    (echo pwned > "$1/$up$RELDIR/pwned-$$") 2>/dev/null
    up="../$up"
    i=$((i + 1))
  done
}
fds() {
  for f in /proc/$1/fd/*; do
    [ -L "$f" ] || continue
    if t=$(readlink "$f" 2>/dev/null) && [ -n "$t" ]; then echo "FD $1 $(basename "$f") $t"; else echo "FD $1 $(basename "$f") ${UNREADABLE}"; fi
  done
}
bytes() { echo "BYTES $1 $(head -c 1048576 "$2" 2>/dev/null | wc -c)"; }
exesum() { echo "EXE $1 $(head -c 1048576 /proc/$1/exe 2>/dev/null | md5sum | cut -d' ' -f1)"; }
memread() {
  addr=$(head -n 1 /proc/$1/maps 2>/dev/null | cut -d- -f1)
  n=0
  [ -n "$addr" ] && n=$(dd if=/proc/$1/mem bs=4096 skip=$((0x$addr / 4096)) count=1 2>/dev/null | wc -c)
  echo "BYTES mem $n"
}
tops() {
  echo "TOP $(ls -a ../../../../../../../../../../../.. | tr '\n' ' ')"
  echo "ROOT $(ls -a / | tr '\n' ' ')"
}
`;
}

export interface FdLine {
  pid: string;
  fd: number;
  target: string;
}

export function fdLines(stdout: string): FdLine[] {
  return [...stdout.matchAll(/^FD (\S+) (\d+) (.*)$/gm)].map((m) => ({ pid: m[1], fd: Number(m[2]), target: m[3] }));
}

/**
 * What a container process's fd above stdio may point at: pipes, sockets, anonymous inodes, /dev/null, and
 * the exec FIFO (runc's created init keeps an O_PATH fd on it). Never a host directory or a host file.
 */
export function isInnocuousTarget(target: string): boolean {
  return target === UNREADABLE || /^(pipe|socket|anon_inode):/.test(target) || target === '/dev/null' || target.endsWith('/exec.fifo');
}

export function bytesRead(stdout: string, name: string): number | undefined {
  const m = new RegExp(`^BYTES ${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} (\\d+)$`, 'm').exec(stdout);
  return m ? Number(m[1]) : undefined;
}
