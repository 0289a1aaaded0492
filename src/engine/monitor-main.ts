// The detached monitor of a `tslab run -d` container: `node monitor-main.cjs ID`, started with its stdout
// and stderr on the container's log file (which `runtime create` hands on to the container).
import { superviseContainer } from './supervise.js';

const id = process.argv[2];
superviseContainer(id, { stdio: ['ignore', 1, 2], forwardSignals: false }).then(
  (status) => process.exit(status),
  (err: unknown) => {
    process.stderr.write(`tslab monitor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(125);
  },
);
