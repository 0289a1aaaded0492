// Temporary OCI bundles, and the per-file harness of the lifecycle suite.
//
// A bundle is a directory with `rootfs/` (a copy of tslab's default busybox rootfs, see rootfs-copy.ts) and a
// `config.json` made by the runtime under test itself (`<runtime> spec` run in the bundle directory),
// then changed by the test through a mutator function.
//
// `setupSuite(name)` gives each test file its own state dir (`--root`), its own temp dir and container
// ids that all start with the run's prefix (`tslabtest-<token>-<name>-`). After each test every
// container it made is removed with `delete --force` and its bundles are deleted; after the file, the
// leak check runs for that file's prefix and throws if anything was left behind.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, inject } from 'vitest';
import { findLeaksSettled, formatLeaks, isMountedUnder } from './leaks.js';
import { copyRootfs } from './rootfs-copy.js';
import { Runtime, RuntimeError, runtimeCommand, setScratchDir, type ExecOptions, type RunResult } from './runtime.js';

/** config.json as plain JSON: tests set whatever fields they like, including wrong or unknown ones. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SpecJson = Record<string, any>;

export type SpecMutator = (spec: SpecJson) => void;

export interface TestRun {
  /** Random per-run token; every container id and temp dir of the run contains it. */
  token: string;
  /** `tslabtest-<token>`: the prefix of every container id of this run. */
  prefix: string;
  /** The run's temp dir, `/tmp/tslabtest-<token>`. */
  base: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    tslabTest: TestRun;
  }
}

export function testRun(): TestRun {
  return inject('tslabTest');
}

export class Bundle {
  constructor(
    public readonly dir: string,
    public readonly runtime: Runtime,
  ) {}

  get rootfs(): string {
    return path.join(this.dir, 'rootfs');
  }

  get configPath(): string {
    return path.join(this.dir, 'config.json');
  }

  readSpec(): SpecJson {
    return JSON.parse(fs.readFileSync(this.configPath, 'utf8')) as SpecJson;
  }

  writeSpec(spec: SpecJson): void {
    fs.writeFileSync(this.configPath, JSON.stringify(spec, null, 2));
  }

  /** Reads config.json, lets `mutate` change it, writes it back. */
  update(mutate: SpecMutator): SpecJson {
    const spec = this.readSpec();
    mutate(spec);
    this.writeSpec(spec);
    return spec;
  }

  /** Sets process.args. */
  args(...args: string[]): this {
    this.update((s) => {
      s.process.args = args;
    });
    return this;
  }

  remove(): void {
    // Never recurse into something still mounted: that would delete through the mount.
    if (isMountedUnder(this.dir)) {
      throw new Error(`bundle ${this.dir} still has mounts below it; not removing it`);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * What `<runtime> spec` wrote, per runtime executable: it writes the same config.json whatever the directory
 * (stdin is never a terminal here), so each test file runs it once and every further bundle gets a copy
 * (a runtime start saved per bundle). test/lifecycle/cli.test.ts tests `spec` itself.
 */
const specTexts = new Map<string, string>();

async function runtimeSpec(runtime: Runtime, dir: string): Promise<void> {
  const key = `${runtime.name} ${runtimeCommand().file}`;
  const cached = specTexts.get(key);
  if (cached !== undefined) {
    fs.writeFileSync(path.join(dir, 'config.json'), cached);
    return;
  }
  const r = await runtime.exec(['spec'], { cwd: dir });
  if (r.code !== 0) throw new RuntimeError(r);
  specTexts.set(key, fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
}

/** Makes a bundle in `dir` (which must not exist): rootfs copy + `<runtime> spec` (its output) + mutator. */
export async function makeBundle(runtime: Runtime, dir: string, mutate?: SpecMutator): Promise<Bundle> {
  fs.mkdirSync(dir, { recursive: true });
  copyRootfs(testRun().base, path.join(dir, 'rootfs'));
  await runtimeSpec(runtime, dir);
  const bundle = new Bundle(dir, runtime);
  bundle.update((spec) => {
    // Tests never have a terminal; the container's stdio is the runtime's.
    spec.process.terminal = false;
    mutate?.(spec);
  });
  return bundle;
}

export interface Suite {
  readonly name: string;
  readonly run: TestRun;
  /** `tslabtest-<token>-<name>`: every id made by this file starts with it. */
  readonly prefix: string;
  /** This file's temp dir. */
  readonly dir: string;
  /** The runtime bound to this file's state dir. */
  readonly rt: Runtime;
  /** A fresh container id, removed (`delete --force`) after the current test. */
  id(label?: string): string;
  /** A fresh bundle, removed after the current test. */
  bundle(mutate?: SpecMutator): Promise<Bundle>;
  /** A fresh empty directory, removed after the current test. */
  tmpDir(label?: string): string;
  /** Registers extra cleanup for the current test (runs before containers are deleted). */
  defer(fn: () => void | Promise<void>): void;
  /** `create --bundle <b> <id>` (extra args go before the id). */
  create(bundle: Bundle, id: string, extra?: string[], opts?: ExecOptions): Promise<RunResult>;
  /** `run --bundle <b> <id>` in the foreground (extra args go before the id). */
  runFg(bundle: Bundle, id: string, extra?: string[], opts?: ExecOptions): Promise<RunResult>;
}

/** Whether `<root>/<id>` exists at all (a directory, or anything else there: the runtime says what it is). */
function hasStateEntry(root: string, id: string): boolean {
  try {
    fs.lstatSync(path.join(root, id));
    return true;
  } catch {
    return false;
  }
}

/** The harness for one test file. Call at the top level of the file. */
export function setupSuite(name: string): Suite {
  let counter = 0;
  let ids: string[] = [];
  let bundles: Bundle[] = [];
  let dirs: string[] = [];
  let deferred: Array<() => void | Promise<void>> = [];
  let state: { run: TestRun; dir: string; rt: Runtime } | null = null;

  const need = () => {
    if (!state) throw new Error('setupSuite: used outside a test');
    return state;
  };

  beforeAll(() => {
    const run = testRun();
    const dir = path.join(run.base, name);
    fs.mkdirSync(path.join(dir, 'root'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'io'), { recursive: true });
    setScratchDir(path.join(dir, 'io'));
    state = { run, dir, rt: new Runtime(path.join(dir, 'root')) };
  });

  afterEach(async () => {
    const s = need();
    const errors: string[] = [];
    for (const fn of deferred.reverse()) {
      try {
        await fn();
      } catch (err) {
        errors.push(String(err));
      }
    }
    // delete --force of an id with no state directory does nothing (runc and tslab alike): no runtime start for
    // the ids a test deleted itself, or never created.
    for (const id of ids) if (hasStateEntry(s.rt.root, id)) await s.rt.forceDelete(id);
    for (const b of bundles) {
      try {
        b.remove();
      } catch (err) {
        errors.push(String(err));
      }
    }
    for (const d of dirs) {
      if (isMountedUnder(d)) errors.push(`${d} still has mounts below it; not removing it`);
      else fs.rmSync(d, { recursive: true, force: true });
    }
    ids = [];
    bundles = [];
    dirs = [];
    deferred = [];
    if (errors.length) throw new Error(errors.join('\n'));
  });

  afterAll(async () => {
    if (!state) return;
    const { run, dir, rt } = state;
    const leaks = await findLeaksSettled({ prefix: `${run.prefix}-${name}-`, paths: [dir], stateRoots: [rt.root] });
    if (leaks.length) throw new Error(`leaks after ${name}:\n${formatLeaks(leaks)}`);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const suite: Suite = {
    name,
    get run() {
      return need().run;
    },
    get prefix() {
      return `${need().run.prefix}-${name}`;
    },
    get dir() {
      return need().dir;
    },
    get rt() {
      return need().rt;
    },
    id(label?: string) {
      const id = `${need().run.prefix}-${name}-${++counter}${label ? `-${label}` : ''}`;
      ids.push(id);
      return id;
    },
    async bundle(mutate?: SpecMutator) {
      const s = need();
      const b = await makeBundle(s.rt, path.join(s.dir, 'bundles', `b${++counter}`), mutate);
      bundles.push(b);
      return b;
    },
    tmpDir(label = 'tmp') {
      const d = path.join(need().dir, 'tmp', `${label}${++counter}`);
      fs.mkdirSync(d, { recursive: true });
      dirs.push(d);
      return d;
    },
    defer(fn) {
      deferred.push(fn);
    },
    create(bundle, id, extra = [], opts) {
      return need().rt.exec(['create', '--bundle', bundle.dir, ...extra, id], opts);
    },
    runFg(bundle, id, extra = [], opts) {
      return need().rt.exec(['run', '--bundle', bundle.dir, ...extra, id], opts);
    },
  };
  return suite;
}
