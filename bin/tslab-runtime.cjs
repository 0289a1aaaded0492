#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// The runtime never speaks TLS, and Node reads NODE_EXTRA_CA_CERTS at every start-up (about 50 ms on a
// machine that sets it): every container start pays for this process, so it starts without it.
// main() resolves once all its work is done (stdout and stderr writes are synchronous on Linux), so the
// process exits at once rather than waiting for Node to wind down. The bundle is loaded with V8's code cache.
require('./cached-require.cjs')
  .loadBundle(`${__dirname}/../dist/cli/runtime.cjs`)
  .main(process.argv.slice(2))
  .then((status) => process.exit(status));
