// `tslab` on a real pseudo-terminal, driven like a learner at a keyboard. The pty comes from the project's
// syscall layer (openPtyPair); its master is read and written through the runtime's own terminal relay
// (src/runtime/terminal/relay.ts: libuv poll and non-blocking reads, never a tty.WriteStream on a master),
// with in-memory streams on our side: keys go into `keys`, what the terminal shows comes out of `screen`.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { openPtyPair } from '../../src/linux/pty.js';
import { relayTerminal, type TerminalRelay } from '../../src/runtime/terminal/relay.js';
import { REPO_ROOT, TSLAB, stripAnsi } from './lab-env.js';

export const KEY = {
  enter: '\r',
  down: '\x1b[B',
  up: '\x1b[A',
  ctrlC: '\x03',
} as const;

export const ROWS = 50;
export const COLS = 120;

export class PtySession {
  private raw = '';
  private exitWait: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Where the next waitFor starts looking, in the stripped screen text. */
  cursor = 0;

  private constructor(
    readonly child: ChildProcess,
    private readonly relay: TerminalRelay,
    private readonly keys: PassThrough,
    screen: PassThrough,
  ) {
    screen.on('data', (chunk: Buffer) => {
      this.raw += chunk.toString('utf8');
    });
    this.exitWait = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  /** Spawns `node bin/tslab.cjs ARGS` with the pty slave as its stdin, stdout and stderr, in a new session. */
  static start(args: string[], env: NodeJS.ProcessEnv): PtySession {
    const pty = openPtyPair();
    const childEnv: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', COLUMNS: String(COLS), LINES: String(ROWS), ...env };
    // Colours as on a learner's terminal (the screen text is compared with the escapes stripped).
    delete childEnv.NO_COLOR;
    delete childEnv.FORCE_COLOR;
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [TSLAB, ...args], {
        cwd: REPO_ROOT,
        stdio: [pty.slave, pty.slave, pty.slave],
        detached: true,
        env: childEnv,
      });
    } catch (err) {
      closeSync(pty.master);
      throw err;
    } finally {
      // The master sees the end (EIO) only once every slave fd is closed: ours goes now.
      closeSync(pty.slave);
    }
    const keys = new PassThrough();
    // A terminal-sized "screen": the relay copies its size onto the pty.
    const screen = Object.assign(new PassThrough(), { isTTY: true, rows: ROWS, columns: COLS });
    const relay = relayTerminal(pty.master, {
      stdin: keys as unknown as NodeJS.ReadStream,
      stdout: screen as unknown as NodeJS.WriteStream,
    });
    return new PtySession(child, relay, keys, screen);
  }

  /** Everything the terminal showed so far, without escape sequences. */
  text(): string {
    return stripAnsi(this.raw);
  }

  /** The screen text from `from` on. */
  since(from: number): string {
    return this.text().slice(from);
  }

  /**
   * Waits until `needle` appears at or after `this.cursor` (or `from`); moves the cursor past it and returns
   * the index where it starts. Fails with the screen so far when it does not come within `timeoutMs`, or
   * when the program exits first, or when `failOn` matches first.
   */
  async waitFor(needle: string | RegExp, opts: { from?: number; timeoutMs?: number; failOn?: RegExp } = {}): Promise<number> {
    const from = opts.from ?? this.cursor;
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      const text = this.text();
      const rest = text.slice(from);
      let at = -1;
      let length = 0;
      if (typeof needle === 'string') {
        at = rest.indexOf(needle);
        length = needle.length;
      } else {
        const m = needle.exec(rest);
        if (m) {
          at = m.index;
          length = m[0].length;
        }
      }
      if (at >= 0) {
        this.cursor = from + at + length;
        return from + at;
      }
      if (opts.failOn?.test(rest)) {
        throw new Error(`${String(opts.failOn)} appeared before ${String(needle)}; the screen from there:\n${rest.slice(-4000)}`);
      }
      const exited = this.child.exitCode !== null || this.child.signalCode !== null;
      if (exited || Date.now() > deadline) {
        throw new Error(
          `${exited ? `tslab exited (${this.child.exitCode ?? this.child.signalCode})` : 'timed out'} before ${String(needle)} appeared; ` +
            `the screen from there:\n${rest.slice(-4000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Types keys, one write per key (as a keyboard sends them). */
  async press(...keys: string[]): Promise<void> {
    for (const key of keys) {
      this.keys.write(key);
      // Let the program take one key at a time (enquirer redraws between keys).
      await new Promise((r) => setTimeout(r, 60));
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends a signal to the program's whole process group (what the terminal's Ctrl-C does). */
  signalGroup(signal: NodeJS.Signals): void {
    process.kill(-this.pid, signal);
  }

  /** Waits for the program to exit (and for the relay to hand over the last output). */
  async exited(timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`tslab (pid ${this.pid}) did not exit; the screen:\n${this.text().slice(-4000)}`)), timeoutMs);
    });
    try {
      const result = await Promise.race([this.exitWait, timeout]);
      // The relay ends when the last slave fd closes; it may hold a bit more output.
      await Promise.race([this.relay.done.catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends everything this session started: the program's group (if still there) and the relay. */
  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await this.exitWait;
    }
    this.relay.close();
    this.keys.destroy();
  }
}

