#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS TSLAB_NODE_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// Node reads NODE_EXTRA_CA_CERTS at every start-up (about 50 ms on a machine that sets it), TLS or not. The
// shebang sets it aside for this process; it is put back for the programs tslab starts, and the one part
// of tslab that speaks TLS (`tslab pull`, src/image/registry.ts) reads the file itself.
if (process.env.TSLAB_NODE_EXTRA_CA_CERTS) process.env.NODE_EXTRA_CA_CERTS = process.env.TSLAB_NODE_EXTRA_CA_CERTS;
delete process.env.TSLAB_NODE_EXTRA_CA_CERTS;
require('../dist/cli/tslab.cjs')
  .main(process.argv.slice(2))
  .then((status) => {
    process.exitCode = status;
  });
