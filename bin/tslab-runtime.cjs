#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// The runtime never speaks TLS, and Node reads NODE_EXTRA_CA_CERTS at every start-up (about 50 ms on a
// machine that sets it): every container start pays for this process, so it starts without it.
require('../dist/cli/runtime.cjs')
  .main(process.argv.slice(2))
  .then((status) => {
    process.exitCode = status;
  });
