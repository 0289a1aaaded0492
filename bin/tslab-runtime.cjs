#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node
// The runtime never speaks TLS, and Node reads NODE_EXTRA_CA_CERTS at every start-up (about 50 ms on a
// machine that sets it): every container start pays for this process, so it starts without it.
// main() resolves once all its work is done (stdout, stderr and --log writes are synchronous on Linux), so the
// process ends at once with _exit(2): Node's own exit (exit handlers, V8 and libuv teardown) took ~3 ms more at
// every call, measured from the last line run to the caller's wait (median of 25: 6.8 ms against 3.5 ms).
// With a terminal on stdio, process.exit, which also puts the terminal's mode back as Node found it.
// The bundle is loaded with V8's code cache.
const tty = require('node:tty');

require('./cached-require.cjs')
  .loadBundle(`${__dirname}/../dist/cli/runtime.cjs`)
  .main(process.argv.slice(2))
  .then((status) => {
    if ([0, 1, 2].some((fd) => tty.isatty(fd))) process.exit(status);
    require('koffi').load('libc.so.6').func('void _exit(int)')(status);
  });
