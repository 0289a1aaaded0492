// What `run` and `exec` do while they wait in the foreground for their process: relay the caller's terminal
// to its pty (when it has one) and forward the caller's signals to it.
import { relayTerminal } from './relay.js';
import { within } from '../../linux/within.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

export interface Foreground {
  /** Once the process has exited: waits (up to 2 s) until what it left in the pty has been written out. */
  drain(): Promise<void>;
  /** Stops relaying and forwarding. */
  close(): void;
}

/**
 * Starts relaying `terminalMaster` (it is taken over) and forwarding signals to `pid`. With
 * `killOnSecondInterrupt`, a second SIGINT or SIGTERM is sent as SIGKILL: as PID 1 a container may ignore
 * what we forward, and a second interrupt is not asked.
 */
export function holdForeground(pid: number, terminalMaster: number | undefined, options: { killOnSecondInterrupt?: boolean } = {}): Foreground {
  const relay = terminalMaster === undefined ? undefined : relayTerminal(terminalMaster, { stdin: process.stdin, stdout: process.stdout });
  const onResize = () => relay?.resize();
  if (relay) process.on('SIGWINCH', onResize);
  // With a terminal, the pty itself delivers window changes.
  const forwarded = relay ? FORWARDED.filter((signal) => signal !== 'SIGWINCH') : FORWARDED;
  let interrupts = 0;
  const forwarders = forwarded.map((signal) => {
    const forward = () => {
      const urgent = options.killOnSecondInterrupt === true && (signal === 'SIGINT' || signal === 'SIGTERM') && ++interrupts > 1;
      try {
        process.kill(pid, urgent ? 'SIGKILL' : signal);
      } catch {
        // It has just exited.
      }
    };
    process.on(signal, forward);
    return () => process.off(signal, forward);
  });
  return {
    async drain() {
      if (!relay) return;
      await within(relay.done, 2000);
    },
    close() {
      relay?.close();
      process.off('SIGWINCH', onResize);
      forwarders.forEach((remove) => remove());
    },
  };
}
