// Prints one plain closing line, "N passed, N failed, N skipped", after vitest's own summary, so tools
// that read a run's last line (CI among them) get the counts without parsing vitest's layout. Under
// test/run-suite.mjs, which runs several vitest processes, the counts also go to TSLAB_TEST_COUNTS_FILE
// as one JSON line, and the runner prints the sum as the suite's last line.
import * as fs from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    // Named again at the very end of a suite run, where a CI log that keeps only its tail still shows them.
    const failures: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === 'passed') counts.passed++;
        else if (result.state === 'failed') {
          counts.failed++;
          failures.push(`${module.moduleId.replace(`${process.cwd()}/`, '')} > ${test.fullName}: ${firstLine(result.errors?.[0]?.message)}`);
        } else counts.skipped++;
      }
      if (module.state() === 'failed' && !module.children.size) {
        counts.failed++;
        failures.push(`${module.moduleId.replace(`${process.cwd()}/`, '')}: ${firstLine(module.errors()[0]?.message)}`);
      }
    }
    process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
    const file = process.env.TSLAB_TEST_COUNTS_FILE;
    if (file) fs.appendFileSync(file, `${JSON.stringify({ ...counts, failures })}\n`);
  }
}

function firstLine(message: string | undefined): string {
  return (message ?? 'no message').split('\n')[0].slice(0, 300);
}
