// `run`: create + start; in the foreground it forwards signals, waits, cleans up, and returns the status.
import { createContainer, type CreateOptions } from './create.js';
import { deleteContainer } from './delete.js';
import { startContainer, type Warn } from './start.js';
import type { StateStore } from '../state/store.js';
import { exitStatus } from '../steps/exit-status.js';
import { releaseLauncher } from '../init/launch-userns.js';
import { holdForeground } from '../terminal/foreground.js';

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
  const foreground = holdForeground(child.pid!, terminalMaster, { killOnSecondInterrupt: true });
  try {
    startContainer(store, opts.id, warn);
    opts.phase?.('started');
    const status = await exited;
    opts.phase?.(`exited, status ${status}`);
    // Every holder of the pty's slave is gone with the container's PID namespace; drain what is left.
    await foreground.drain();
    return status;
  } finally {
    foreground.close();
    deleteContainer(store, opts.id, true, warn);
    opts.phase?.('deleted');
  }
}
