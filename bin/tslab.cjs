#!/usr/bin/env node
require('../dist/cli/tslab.cjs')
  .main(process.argv.slice(2))
  .then((status) => {
    process.exitCode = status;
  });
