// `run`: create + start; in the foreground it forwards signals, waits, cleans up, and returns the status.
import { createContainer, type CreateOptions } from './create.js';
import { deleteContainer } from './delete.js';
import { startContainer, type Warn } from './start.js';
import type { StateStore } from '../state/store.js';
import { exitStatus } from '../steps/exit-status.js';
import { releaseLauncher } from '../init/launch-userns.js';
import { relayTerminal } from '../terminal/relay.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

export async function runContainer(store: StateStore, opts: CreateOptions & { detach: boolean }, warn: Warn): Promise<number> {
  const { child, terminalMaster } = await createContainer(store, { ...opts, keepTerminal: !opts.detach, warn });
  if (opts.detach) {
    startContainer(store, opts.id, warn);
    await releaseLauncher(child);
    child.unref();
    return 0;
  }
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(exitStatus(code, signal)));
  });
  const relay = terminalMaster === undefined ? undefined : relayTerminal(terminalMaster, { stdin: process.stdin, stdout: process.stdout });
  const onResize = () => relay?.resize();
  if (relay) process.on('SIGWINCH', onResize);
  // With a terminal, the pty itself delivers window changes to the container.
  const forwarded = relay ? FORWARDED.filter((signal) => signal !== 'SIGWINCH') : FORWARDED;
  // As PID 1 the container may ignore what we forward; a second interrupt is not asked, it is SIGKILL.
  let interrupts = 0;
  const forwarders = forwarded.map((signal) => {
    const forward = () => {
      const urgent = (signal === 'SIGINT' || signal === 'SIGTERM') && ++interrupts > 1;
      try {
        process.kill(child.pid!, urgent ? 'SIGKILL' : signal);
      } catch {
        // The container has just exited.
      }
    };
    process.on(signal, forward);
    return () => process.off(signal, forward);
  });
  try {
    startContainer(store, opts.id, warn);
    opts.phase?.('started');
    const status = await exited;
    opts.phase?.(`exited, status ${status}`);
    // Every holder of the pty's slave is gone with the container's PID namespace; drain what is left.
    if (relay) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([relay.done, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
      clearTimeout(timer);
    }
    return status;
  } finally {
    relay?.close();
    process.off('SIGWINCH', onResize);
    forwarders.forEach((remove) => remove());
    deleteContainer(store, opts.id, true, warn);
    opts.phase?.('deleted');
  }
}
