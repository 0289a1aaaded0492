import { defineConfig } from 'vitest/config';

// The lifecycle suite is one set of files run twice: once against runc, once against tslab-runtime.
const lifecycle = (runtime: string) => ({
  extends: true as const,
  test: {
    name: `lifecycle:${runtime}`,
    include: ['test/lifecycle/**/*.test.ts'],
    env: { TSLAB_TEST_RUNTIME: runtime },
  },
});

// Real engines (podman, containerd, Docker Engine) driving each runtime, one project per runtime.
const engines = (runtime: string) => ({
  extends: true as const,
  test: {
    name: `engines:${runtime}`,
    include: ['test/oci-engines/**/*.test.ts'],
    env: { TSLAB_TEST_RUNTIME: runtime },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});

export default defineConfig({
  test: {
    // Containers share one kernel: within a vitest process files run one after another, so a file's checks of
    // kernel state see only its own work. `npm test` (test/run-suite.mjs) runs two such processes at a time,
    // never two whose host-wide checks would see each other's work.
    fileParallelism: false,
    // One worker process for all of a run's files, modules loaded once: a fresh worker per file cost ~0.45 s of
    // CPU each (the unit project: 32 s -> 16 s). Files that set process.env or vi.mock put them back.
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'kernel', include: ['test/kernel/**/*.test.ts'] } },
      lifecycle('runc'),
      lifecycle('tslab'),
      engines('runc'),
      engines('tslab'),
      { extends: true, test: { name: 'lab', include: ['test/lab/**/*.test.ts'] } },
      { extends: true, test: { name: 'engine', include: ['test/engine/**/*.test.ts'] } },
      // Hostile input: fuzzed configs, hostile images, kill -9 during create, escapes from inside a container.
      { extends: true, test: { name: 'security', include: ['test/security/**/*.test.ts'] } },
    ],
  },
});
