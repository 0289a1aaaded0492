// Signal names and numbers on Linux x86_64, and the parsing `runc kill <id> [signal]` does.
//
// runc 1.1.5 (kill.go) parses the signal argument like this:
//   1. If the text is a decimal integer (Go strconv.Atoi: optional + or - sign, leading zeros allowed),
//      that number is the signal. runc does no range check; the kernel refuses numbers above 64.
//   2. Otherwise the text is upper-cased (so `kill`, `Kill` and `sigkill` all work), `SIG` is put in front
//      if missing, and the result is looked up among the 31 standard names (SIGHUP..SIGSYS).
//      Aliases such as SIGIOT, SIGPOLL, SIGCLD are not known to runc.
// tslab also accepts the real-time forms RTMIN, RTMIN+n, RTMAX, RTMAX-n (with or without SIG), which runc
// does not: SIGRTMIN is 34 and SIGRTMAX is 64, as glibc and kill(1) number them.

/** The 31 standard signals by number, as golang.org/x/sys/unix lists them for linux/amd64. */
const STANDARD: ReadonlyMap<number, string> = new Map([
  [1, 'SIGHUP'],
  [2, 'SIGINT'],
  [3, 'SIGQUIT'],
  [4, 'SIGILL'],
  [5, 'SIGTRAP'],
  [6, 'SIGABRT'],
  [7, 'SIGBUS'],
  [8, 'SIGFPE'],
  [9, 'SIGKILL'],
  [10, 'SIGUSR1'],
  [11, 'SIGSEGV'],
  [12, 'SIGUSR2'],
  [13, 'SIGPIPE'],
  [14, 'SIGALRM'],
  [15, 'SIGTERM'],
  [16, 'SIGSTKFLT'],
  [17, 'SIGCHLD'],
  [18, 'SIGCONT'],
  [19, 'SIGSTOP'],
  [20, 'SIGTSTP'],
  [21, 'SIGTTIN'],
  [22, 'SIGTTOU'],
  [23, 'SIGURG'],
  [24, 'SIGXCPU'],
  [25, 'SIGXFSZ'],
  [26, 'SIGVTALRM'],
  [27, 'SIGPROF'],
  [28, 'SIGWINCH'],
  [29, 'SIGIO'],
  [30, 'SIGPWR'],
  [31, 'SIGSYS'],
]);

/** The first and last real-time signals as user space sees them (glibc keeps 32 and 33 for itself). */
export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

/** The highest signal number the kernel accepts (_NSIG). */
export const MAX_SIGNAL = 64;

const numberByName: ReadonlyMap<string, number> = new Map([...STANDARD].map(([n, name]) => [name, n]));

/** Every signal number 1..64 with its printable name: SIGHUP..SIGSYS, SIG32, SIG33, SIGRTMIN, SIGRTMIN+1..+15, SIGRTMAX-14..-1, SIGRTMAX. */
export const SIGNAL_NAMES: ReadonlyMap<number, string> = new Map(
  Array.from({ length: MAX_SIGNAL }, (_, i) => [i + 1, nameOf(i + 1)] as [number, string]),
);

function nameOf(num: number): string {
  const std = STANDARD.get(num);
  if (std !== undefined) return std;
  if (num === SIGRTMIN) return 'SIGRTMIN';
  if (num === SIGRTMAX) return 'SIGRTMAX';
  // Split the real-time range the way kill -l does: first half counts up from RTMIN, the rest down from RTMAX.
  if (num > SIGRTMIN && num < SIGRTMAX) {
    return num - SIGRTMIN <= (SIGRTMAX - SIGRTMIN) / 2 ? `SIGRTMIN+${num - SIGRTMIN}` : `SIGRTMAX-${SIGRTMAX - num}`;
  }
  return `SIG${num}`;
}

/** A signal argument that is not a signal. */
export class SignalError extends Error {
  readonly signal: string;
  constructor(signal: string, message: string) {
    super(message);
    this.name = 'SignalError';
    this.signal = signal;
  }
}

function unknown(text: string, why = ''): SignalError {
  // runc says `unknown signal "<text>"`; the rest is for the learner.
  return new SignalError(
    text,
    `unknown signal ${JSON.stringify(text)}${why}: give a signal name such as KILL, TERM or SIGHUP ` +
      `(upper or lower case, SIG optional), RTMIN+n / RTMAX-n, or a number from 0 to ${MAX_SIGNAL} ` +
      `(\`kill -l\` lists them)`,
  );
}

/**
 * Parse the signal argument of `kill` the way runc does (see the comment at the top of this file).
 * Returns the signal number. Numbers must be 0..64 (0 only checks that the process exists);
 * anything else throws SignalError.
 */
export function parseSignal(text: string): number {
  if (/^[+-]?[0-9]+$/.test(text)) {
    const n = Number(text);
    if (n < 0 || n > MAX_SIGNAL) throw unknown(text, ` (signal numbers go from 0 to ${MAX_SIGNAL})`);
    return n;
  }
  let name = text.toUpperCase();
  if (!name.startsWith('SIG')) name = `SIG${name}`;
  const std = numberByName.get(name);
  if (std !== undefined) return std;
  const rt = /^SIGRT(MIN|MAX)(?:([+-])([0-9]+))?$/.exec(name);
  if (rt) {
    const base = rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX;
    const sign = rt[2];
    const offset = rt[3] === undefined ? 0 : Number(rt[3]);
    // RTMIN counts up, RTMAX counts down, as in kill(1).
    if (sign === undefined || (rt[1] === 'MIN' && sign === '+') || (rt[1] === 'MAX' && sign === '-')) {
      const n = rt[1] === 'MIN' ? base + offset : base - offset;
      if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
    }
    throw unknown(text, ` (real-time signals go from RTMIN = ${SIGRTMIN} to RTMAX = ${SIGRTMAX})`);
  }
  throw unknown(text);
}

/** The printable name of a signal number (9 → SIGKILL, 35 → SIGRTMIN+1); unknown numbers print as `SIG<n>`. */
export function signalName(num: number): string {
  return SIGNAL_NAMES.get(num) ?? `SIG${num}`;
}
