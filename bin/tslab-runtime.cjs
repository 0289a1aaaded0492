#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// The runtime never speaks TLS, and Node reads NODE_EXTRA_CA_CERTS at every start-up (about 50 ms on a
// machine that sets it): every container start pays for this process, so it starts without it.
// main() resolves once all its work is done (stdout and stderr writes are synchronous on Linux), so the
// process exits at once rather than waiting for Node to wind down. The bundle is loaded with V8's code cache,
// written once a command has run (cached-require.cjs says why); `create` and `run` have one of their own, found
// by a look at the arguments that an id such as "run" may fool (it only picks a cache).
const argv = process.argv.slice(2);
const { exports: cli, saveCache } = require('./cached-require.cjs').loadBundle(`${__dirname}/../dist/cli/runtime.cjs`, {
  late: true,
  variant: argv.some((arg) => arg === 'create' || arg === 'run') ? 'create' : '',
});
// Only a command that succeeded has run the functions its next calls will want.
cli.main(argv).then((status) => {
  if (status === 0) saveCache();
  process.exit(status);
});
