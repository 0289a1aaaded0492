// Prints one plain closing line, "N passed, N failed, N skipped", after vitest's own summary, so tools
// that read a run's last line (CI among them) get the counts without parsing vitest's layout. Under
// test/run-suite.mjs, which runs several vitest processes, the counts also go to TSLAB_TEST_COUNTS_FILE
// as one JSON line, and the runner prints the sum as the suite's last line.
import * as fs from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else counts.skipped++;
      }
      if (module.state() === 'failed' && !module.children.size) counts.failed++;
    }
    process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
    const file = process.env.TSLAB_TEST_COUNTS_FILE;
    if (file) fs.appendFileSync(file, `${JSON.stringify(counts)}\n`);
  }
}
