// The cgroup manager: one container's cgroup in every hierarchy (v1 controllers, the cgroup2 hierarchy, or both).
//
// Life of a container's cgroups:
//   intended()    what create() is about to make, for the create's journal: written before the mkdirs, so a
//                 create killed halfway can still be undone.
//   create()      mkdir the container's directory in each hierarchy (and any missing parents), remembering which
//                 directories it made: destroy() removes exactly those and nothing else. A container's cgroup
//                 that exists already and has processes is refused, not shared (runc 1.2 refuses it too).
//   apply(r)      write linux.resources into the controller files (pure v2: and attach the device filter, an eBPF
//                 program, to the container's cgroup).
//   addProcess()  write the pid into cgroup.procs of each hierarchy; children it forks are born there too.
//   freeze/thaw   `pause` / `resume`.
//   destroy()     rmdir, deepest first (a cgroup can only be removed once it has no processes and no children).
// toJSON() keeps all of that in a plain object, so a later `tslab-runtime delete` can rebuild the manager.

import { posix } from 'node:path';
import { readFileSync } from 'node:fs';
import type { Resources } from '../spec/types.js';
import { CgroupError, errnoCode, hintFor, writeError } from './cgroup-error.js';
import { sleepSync } from '../../linux/proc.js';
import { realCgroupFs, type CgroupFs } from './cgroup-fs.js';
import { detectCgroupMode, parseProcCgroup, type CgroupLayout, type CgroupMode } from './detect.js';
import { resolveCgroupPaths, type HierarchyPath } from './cgroup-paths.js';
import { planV1 } from './v1.js';
import type { CgroupWrite } from './write.js';
import { controllersNeeded, planV2, v2DeviceFilter } from './v2.js';
import { bpfDeviceFilterInstaller, type DeviceFilterInstaller } from './devices.js';
import { readStats, type ContainerStats } from './stats.js';

/** How long a parent cgroup with an empty cpuset is given to get one from the create that made it. */
const PARENT_CPUSET_WAIT_MS = 1000;

/** Everything needed to rebuild a manager in a later process (`delete`, `kill`, `pause`...). */
export interface SavedCgroups {
  version: 1;
  mode: CgroupMode;
  /** Each managed hierarchy and the container's directory in it. */
  hierarchies: HierarchyPath[];
  /** Directories create() made, in creation order (parents before children). Only these are ever removed. */
  created: string[];
  /** Controllers this manager enabled (cgroup.subtree_control) in a cgroup it did not create. Never undone. */
  enabled: Array<{ dir: string; controller: string }>;
}

export interface DestroyOptions {
  /**
   * Kill the processes first: write 1 to cgroup.kill where a cgroup2 hierarchy has it, SIGKILL every pid still
   * listed, and thaw a v1-frozen cgroup (a SIGKILL to a v1-frozen task stays pending until it is thawed). Only in
   * the cgroups this manager created: one it found already there may hold processes that are not the container's.
   */
  kill?: boolean;
  /** How long to keep retrying rmdir while processes exit (EBUSY). Default 5000 ms. */
  timeoutMs?: number;
}

export interface CgroupManager {
  readonly mode: CgroupMode;
  /** Hierarchy key ('memory', 'cpu,cpuacct', 'name=systemd', 'unified', ...) -> the container's cgroup directory. */
  readonly paths: Record<string, string>;
  /** toJSON() as it will be after create(): every directory create() would make now is listed as made. */
  intended(): SavedCgroups;
  create(): void;
  apply(resources: Resources | undefined, opts?: ApplyOptions): void;
  /**
   * `update` of a created, running or paused container: writes only what `changes` sets, device rules left alone.
   * On cgroup v2, where one file holds two settings (cpu.max: quota and period) or one value depends on another
   * (memory.swap.max = swap - limit), the setting not given is read back from the kernel.
   */
  update(changes: Resources): void;
  /** Usage and limits, read from the cgroup files (runc's `events --stats` data). */
  stats(): ContainerStats;
  /** Writes the pid into each hierarchy, or only those whose controllers `which` accepts. */
  addProcess(pid: number, which?: (controllers: readonly string[]) => boolean): void;
  /** Every pid in the container's cgroup and its descendants, in any hierarchy (sorted, no duplicates). */
  pids(): number[];
  freeze(): void;
  thaw(): void;
  isFrozen(): boolean;
  destroy(opts?: DestroyOptions): void;
  /** How many processes the OOM killer killed in this cgroup (v1 memory.oom_control / v2 memory.events); 0 if unknown. */
  oomKillCount(): number;
  toJSON(): SavedCgroups;
}

export interface ApplyOptions {
  /**
   * Leave the device rules as they are: `update` changes limits only (runc's update cannot change devices either),
   * and rewriting v1 rules means a moment of "deny all" for a running container.
   */
  skipDevices?: boolean;
}

export interface NewCgroupManagerOptions {
  id: string;
  cgroupsPath?: string | undefined;
  /** Default: detectCgroupMode() on /proc/self/mountinfo. */
  layout?: CgroupLayout;
  /** Text of /proc/self/cgroup (for tests). Default: read it. */
  ownCgroupFile?: string;
  /** Filesystem operations (for tests). Default: node:fs. */
  fs?: CgroupFs;
  /** Puts the device filter on a pure-v2 cgroup (for tests). Default: bpf(2). */
  deviceFilter?: DeviceFilterInstaller;
}

const FREEZE_TIMEOUT_MS = 5000;

class Manager implements CgroupManager {
  private readonly state: SavedCgroups;
  private readonly fs: CgroupFs;
  private readonly deviceFilter: DeviceFilterInstaller;

  constructor(state: SavedCgroups, fs: CgroupFs, deviceFilter: DeviceFilterInstaller) {
    this.state = state;
    this.fs = fs;
    this.deviceFilter = deviceFilter;
  }

  get mode(): CgroupMode {
    return this.state.mode;
  }

  get paths(): Record<string, string> {
    return Object.fromEntries(this.state.hierarchies.map((h) => [h.key, h.dir]));
  }

  // ---- create -------------------------------------------------------------------------------------------------

  intended(): SavedCgroups {
    const state = this.toJSON();
    for (const h of this.state.hierarchies) {
      let cur = h.mountPoint;
      for (const seg of posix.relative(h.mountPoint, h.dir).split('/').filter((s) => s !== '')) {
        cur = posix.join(cur, seg);
        if (!this.fs.exists(cur) && !state.created.includes(cur)) state.created.push(cur);
      }
    }
    return state;
  }

  create(): void {
    this.refuseOccupied();
    const made: string[] = [];
    try {
      for (const h of this.state.hierarchies) {
        if (!this.fs.exists(h.mountPoint)) {
          throw new CgroupError(`the ${h.key} cgroup hierarchy is not mounted at ${h.mountPoint} any more`, { path: h.mountPoint });
        }
        // v1 cpuset: a new cgroup starts with empty cpuset.cpus/mems, and a process cannot join it (ENOSPC).
        const cpuset = h.kind === 'v1' && h.controllers.includes('cpuset');
        let cur = h.mountPoint;
        for (const seg of posix.relative(h.mountPoint, h.dir).split('/').filter((s) => s !== '')) {
          cur = posix.join(cur, seg);
          if (this.fs.exists(cur)) continue;
          try {
            this.fs.mkdir(cur);
          } catch (err) {
            if (errnoCode(err) === 'EEXIST') continue; // made concurrently by someone else: not ours
            const code = errnoCode(err) ?? 'EIO';
            throw new CgroupError(`cannot create cgroup ${cur}: ${code} — ${mkdirHint(code)}`, { path: cur, code, cause: err });
          }
          made.push(cur);
          this.state.created.push(cur);
          // At once: a create beside this one (an engine starts several) may meet this directory next.
          if (cpuset) this.copyCpusetFromParent(cur);
        }
      }
    } catch (err) {
      // Leave nothing behind from a half-done create.
      for (const dir of made.reverse()) {
        try {
          this.fs.rmdir(dir);
        } catch {
          /* best effort */
        }
      }
      this.state.created = this.state.created.filter((d) => !made.includes(d));
      throw err;
    }
  }

  /**
   * A container's cgroup that exists already and holds processes belongs to someone else (another container, a
   * leftover of a runtime that died): sharing it would put both under one set of limits, and a later delete
   * would kill the other's processes. runc 1.1 only warns ("container's cgroup is not empty"); 1.2 refuses.
   */
  private refuseOccupied(): void {
    for (const h of this.state.hierarchies) {
      if (!this.fs.exists(h.dir)) continue;
      const pids = this.pidsUnder(h.dir);
      if (pids.length === 0) continue;
      throw new CgroupError(
        `container's cgroup is not empty: ${h.dir} already exists and has ${pids.length} process(es) (${pids.slice(0, 10).join(' ')}); ` +
          'it belongs to another container or program, so tslab-runtime will not share it: choose another id or linux.cgroupsPath, ' +
          'or stop those processes and remove the cgroup',
        { path: h.dir },
      );
    }
  }

  /** The parent's cpuset `file`, or its effective_ twin when that is empty. */
  private parentCpuset(parent: string, file: string): string {
    const value = this.read(posix.join(parent, file)).trim();
    if (value !== '') return value;
    const effective = posix.join(parent, file.replace('cpuset.', 'cpuset.effective_'));
    return this.fs.exists(effective) ? this.read(effective).trim() : '';
  }

  private copyCpusetFromParent(dir: string): void {
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const path = posix.join(dir, file);
      if (this.read(path).trim() !== '') continue;
      const parent = posix.dirname(dir);
      let value = this.parentCpuset(parent, file);
      // A parent that another create has just made gets its cpuset from that create in a moment (docker runs
      // four containers under a new cgroup-parent at once: one of them met it empty).
      for (const deadline = Date.now() + PARENT_CPUSET_WAIT_MS; value === '' && Date.now() < deadline; ) {
        sleepSync(10);
        value = this.parentCpuset(parent, file);
      }
      if (value === '') {
        throw new CgroupError(
          `cannot set up ${path}: the parent cgroup ${parent} has an empty ${file}, so the new cgroup could not hold ` +
            'any process; tslab-runtime does not change cgroups it did not create',
          { path: posix.join(parent, file) },
        );
      }
      this.write(path, value);
    }
  }

  // ---- apply --------------------------------------------------------------------------------------------------

  apply(resources: Resources | undefined, opts: ApplyOptions = {}): void {
    if (this.state.mode === 'v2') {
      const h = this.state.hierarchies.find((x) => x.kind === 'v2');
      if (!h) throw new CgroupError('no cgroup2 hierarchy recorded for this container');
      const program = opts.skipDevices ? undefined : v2DeviceFilter(resources); // compiled (rules checked) before any write
      // The controllers a plan needs do not depend on the weight file's name, which is only visible once io is enabled.
      this.enableControllers(h, planV2(resources));
      const plan = planV2(resources, { ioBfq: this.fs.exists(posix.join(h.dir, 'io.bfq.weight')) });
      this.execute(plan, () => h.dir);
      if (program) this.installDeviceFilter(h.dir, program);
      return;
    }

    // v1 and hybrid: the v1 devices controller enforces the rules (devices.allow/deny, written by planV1).
    // In hybrid mode no eBPF filter is attached to the container's cgroup2 directory, although the kernel would run
    // one (it checks the eBPF programs first, then the v1 controller; both must allow). That second check would not
    // be harmless: the two do not read rules quite alike (v1 cannot punch a hole in a wildcard allow, and takes any
    // "a" rule as "a *:* rwm"; see device-filter.ts), so an odd rule list would lose access that v1 grants. runc and
    // crun attach no program in hybrid mode either, and tslab behaves as they do.
    const userDeviceRules = resources?.devices?.length ?? 0;
    const devicesHierarchy = this.v1For('devices');
    if (userDeviceRules > 0 && !devicesHierarchy) {
      throw new CgroupError('device rules (linux.resources.devices) need the v1 "devices" controller, which is not mounted');
    }

    const memory = this.v1For('memory');
    let memswAvailable = false;
    let currentLimit: bigint | undefined;
    if (resources?.memory && memory) {
      memswAvailable = this.fs.exists(posix.join(memory.dir, 'memory.memsw.limit_in_bytes'));
      const text = this.read(posix.join(memory.dir, 'memory.limit_in_bytes')).trim();
      if (/^\d+$/.test(text)) currentLimit = BigInt(text);
    }
    const blkio = this.v1For('blkio');
    const blkioBfq = blkio !== undefined && this.fs.exists(posix.join(blkio.dir, 'blkio.bfq.weight'));
    const ctx = { memswAvailable, blkioBfq, skipDevices: opts.skipDevices ?? false };
    let plan = planV1(resources, currentLimit === undefined ? ctx : { ...ctx, currentLimit });
    // Without a devices hierarchy, the default allow list cannot be written and nothing else was asked for.
    if (!devicesHierarchy) plan = plan.filter((w) => w.controller !== 'devices');
    this.execute(plan, (controller, w) => {
      const h = this.v1For(controller);
      if (!h && w.setting) {
        throw new CgroupError(
          `${w.setting} cannot be applied: the cgroup v1 "${controller}" controller is not mounted on this machine ` +
            '(/proc/cgroups lists the controllers the kernel has, /proc/self/mountinfo the mounted ones); remove the setting',
          { path: w.file, value: w.value },
        );
      }
      if (!h) {
        throw new CgroupError(
          `cannot write ${w.file}: the cgroup v1 "${controller}" controller is not mounted on this machine`,
          { path: w.file, value: w.value },
        );
      }
      return h.dir;
    });
  }

  update(changes: Resources): void {
    const v2 = this.state.mode === 'v2' ? this.state.hierarchies.find((h) => h.kind === 'v2') : undefined;
    if (!v2) {
      this.apply(changes, { skipDevices: true });
      return;
    }
    const merged = structuredClone(changes);
    const cpu = merged.cpu;
    if (cpu && (cpu.period ?? 0) !== 0 && (cpu.quota ?? 0) === 0) {
      // cpu.max "QUOTA PERIOD": a new period alone must not drop the quota in force.
      const quota = this.read(posix.join(v2.dir, 'cpu.max')).trim().split(/\s+/)[0];
      cpu.quota = quota === undefined || quota === 'max' ? -1 : Number(quota);
    }
    const memory = merged.memory;
    if (memory && (memory.swap ?? 0) > 0 && (memory.limit ?? 0) === 0) {
      const limit = this.read(posix.join(v2.dir, 'memory.max')).trim();
      memory.limit = limit === 'max' ? -1 : Number(limit);
    }
    this.apply(merged, { skipDevices: true });
  }

  stats(): ContainerStats {
    return readStats(this.fs, this.state.hierarchies, this.state.mode === 'v2');
  }

  /**
   * cgroup v2: attach the device filter to the container's cgroup, replacing the one a previous apply() attached.
   * A failure is an error, never a shrug: a container without its filter could open every device of the host.
   */
  private installDeviceFilter(dir: string, program: Buffer): void {
    try {
      this.deviceFilter.install(dir, program);
    } catch (err) {
      const code = errnoCode(err);
      throw new CgroupError(
        `cannot attach the device filter (linux.resources.devices) to ${dir}: cgroup v2 enforces device rules with an ` +
          `eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE), and the kernel refused it: ${(err as Error).message ?? String(err)}`,
        code === undefined ? { path: dir, cause: err } : { path: dir, code, cause: err },
      );
    }
  }

  private v1For(controller: string): HierarchyPath | undefined {
    return this.state.hierarchies.find((h) => h.kind === 'v1' && h.controllers.includes(controller));
  }

  private execute(plan: CgroupWrite[], dirFor: (controller: string, w: CgroupWrite) => string): void {
    const later: Array<{ path: string; w: CgroupWrite }> = [];
    for (const w of plan) {
      const path = posix.join(dirFor(w.controller, w), w.file);
      if (w.optional && !this.fs.exists(path)) continue;
      try {
        this.fs.writeFile(path, w.value);
      } catch (err) {
        if (w.retryLaterOnEinval && errnoCode(err) === 'EINVAL') {
          later.push({ path, w });
          continue;
        }
        if (w.setting && errnoCode(err) === 'ENOENT') {
          throw new CgroupError(
            `${w.setting} cannot be applied on this machine: ${path} does not exist (${missingFileReason(w.file)})`,
            { path, value: w.value, code: 'ENOENT', cause: err },
          );
        }
        throw writeError(path, w.value, err, w.setting ? `${w.setting}: ${hintFor(path, errnoCode(err) ?? 'EIO', w.value)}` : undefined);
      }
      if (w.verifyReadBack) this.verify(path, w.value);
    }
    for (const { path, w } of later) this.write(path, w.value);
  }

  /** The kernel silently clamps some values (cpu.shares to 2..262144): read back and say so. */
  private verify(path: string, wanted: string): void {
    const got = this.read(path).trim();
    if (got === wanted) return;
    const bound = Number(got) < Number(wanted) ? 'maximum' : 'minimum';
    throw new CgroupError(
      `wrote "${wanted}" to ${path} but the kernel kept "${got}": the ${bound} allowed value is ${got}`,
      { path, value: wanted },
    );
  }

  /**
   * cgroup v2: a controller's files (memory.max...) exist in a cgroup only if the controller is enabled in the
   * parent's cgroup.subtree_control, and a controller can only be enabled there if the grandparent enabled it too.
   * Enable what the plan needs in every parent this manager created, and in the first pre-existing parent above them
   * (only if it is not already enabled there); never higher up.
   */
  private enableControllers(h: HierarchyPath, plan: CgroupWrite[]): void {
    const controllers = controllersNeeded(plan);
    if (controllers.length === 0) return;
    const targets: string[] = [];
    for (let dir = posix.dirname(h.dir); ; dir = posix.dirname(dir)) {
      targets.unshift(dir);
      if (!this.state.created.includes(dir) || dir === h.mountPoint || dir === '/') break;
    }
    for (const dir of targets) {
      const enabled = this.words(posix.join(dir, 'cgroup.subtree_control'));
      const missing = controllers.filter((c) => !enabled.includes(c));
      if (missing.length === 0) continue;
      const available = this.words(posix.join(dir, 'cgroup.controllers'));
      const unavailable = missing.filter((c) => !available.includes(c));
      if (unavailable.length > 0) {
        const where = dir === h.mountPoint
          ? 'the root cgroup does not offer it (is the controller bound to a cgroup v1 hierarchy?)'
          : `it must first be enabled in ${posix.join(posix.dirname(dir), 'cgroup.subtree_control')}, ` +
            'which tslab-runtime leaves alone because it did not create that cgroup';
        const settings = [...new Set(plan.filter((w) => w.setting && unavailable.includes(w.controller)).map((w) => w.setting))];
        throw new CgroupError(
          (settings.length > 0 ? `${settings.join(', ')} cannot be applied: ` : '') +
            `cgroup v2 controller${unavailable.length > 1 ? 's' : ''} ${unavailable.map((c) => `"${c}"`).join(', ')} ` +
            `not available in ${dir} (its cgroup.controllers lists "${available.join(' ')}"): ${where}`,
          { path: posix.join(dir, 'cgroup.controllers') },
        );
      }
      this.write(posix.join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
      if (!this.state.created.includes(dir)) {
        for (const controller of missing) this.state.enabled.push({ dir, controller });
      }
    }
  }

  // ---- processes ----------------------------------------------------------------------------------------------

  addProcess(pid: number, which: (controllers: readonly string[]) => boolean = () => true): void {
    if (!Number.isInteger(pid) || pid <= 0) throw new CgroupError(`addProcess: ${pid} is not a process id`);
    for (const h of this.state.hierarchies) {
      if (!which(h.controllers)) continue;
      const procs = posix.join(h.dir, 'cgroup.procs');
      try {
        if (this.fs.joinCgroup) this.fs.joinCgroup(h.dir, pid);
        else this.fs.writeFile(procs, String(pid));
      } catch (err) {
        // A piece a learner has not written yet (lab builds) says so itself; don't dress it up as EIO.
        if (err instanceof Error && err.name === 'NotWrittenYet') throw err;
        throw writeError(procs, String(pid), err);
      }
    }
  }

  pids(): number[] {
    const found = new Set<number>();
    for (const h of this.state.hierarchies) for (const pid of this.pidsUnder(h.dir)) found.add(pid);
    return [...found].sort((a, b) => a - b);
  }

  /** Every pid in `top` and the cgroups below it. */
  private pidsUnder(top: string): number[] {
    const found: number[] = [];
    const walk = (dir: string): void => {
      let text: string;
      let children: string[];
      try {
        text = this.fs.readFile(posix.join(dir, 'cgroup.procs'));
        children = this.fs.listDirs(dir);
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT') return; // removed meanwhile
        throw new CgroupError(`cannot list the processes of cgroup ${dir}: ${code ?? (err as Error).message}`, { path: dir, cause: err, ...(code ? { code } : {}) });
      }
      for (const line of text.split('\n')) if (line.trim() !== '') found.push(Number(line));
      for (const c of children) walk(posix.join(dir, c));
    };
    walk(top);
    return found;
  }

  oomKillCount(): number {
    const v1 = this.v1For('memory');
    const file = v1
      ? posix.join(v1.dir, 'memory.oom_control')
      : this.state.mode === 'v2'
        ? posix.join(this.state.hierarchies.find((h) => h.kind === 'v2')?.dir ?? '/nonexistent', 'memory.events')
        : undefined;
    if (!file || !this.fs.exists(file)) return 0;
    const m = /^oom_kill (\d+)$/m.exec(this.read(file));
    return m ? Number(m[1]) : 0;
  }

  // ---- freezer ------------------------------------------------------------------------------------------------

  /** v1 freezer hierarchy if mounted (v1, hybrid), else the cgroup2 hierarchy's cgroup.freeze. */
  private freezer(): { kind: 'v1' | 'v2'; dir: string } {
    const v1 = this.v1For('freezer');
    if (v1) return { kind: 'v1', dir: v1.dir };
    const v2 = this.state.hierarchies.find((h) => h.kind === 'v2');
    if (v2) return { kind: 'v2', dir: v2.dir };
    throw new CgroupError('no freezer: neither a v1 freezer hierarchy nor a cgroup2 hierarchy is mounted');
  }

  freeze(): void {
    this.setFrozen(true);
  }

  thaw(): void {
    this.setFrozen(false);
  }

  isFrozen(): boolean {
    const f = this.freezer();
    if (f.kind === 'v1') return this.read(posix.join(f.dir, 'freezer.state')).trim() === 'FROZEN';
    return this.eventsFrozen(f.dir);
  }

  private eventsFrozen(dir: string): boolean {
    return /^frozen 1$/m.test(this.read(posix.join(dir, 'cgroup.events')));
  }

  /**
   * v1: write FROZEN/THAWED to freezer.state and poll until it reads back (it shows FREEZING while tasks are being
   * stopped). v2: write 1/0 to cgroup.freeze and poll cgroup.events for "frozen 1"/"frozen 0".
   */
  private setFrozen(frozen: boolean): void {
    const f = this.freezer();
    const [file, value] = f.kind === 'v1'
      ? [posix.join(f.dir, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED']
      : [posix.join(f.dir, 'cgroup.freeze'), frozen ? '1' : '0'];
    const done = (): boolean =>
      f.kind === 'v1' ? this.read(file).trim() === value : this.eventsFrozen(f.dir) === frozen;
    this.write(file, value);
    const deadline = Date.now() + FREEZE_TIMEOUT_MS;
    for (let i = 1; !done(); i++) {
      if (Date.now() > deadline) {
        if (frozen) {
          try {
            this.fs.writeFile(file, f.kind === 'v1' ? 'THAWED' : '0');
          } catch {
            /* report the original problem */
          }
        }
        throw new CgroupError(
          `the cgroup did not become ${frozen ? 'frozen' : 'thawed'} within ${FREEZE_TIMEOUT_MS} ms (${file}); ` +
            (frozen ? 'a task may be stuck in the kernel; the cgroup was thawed again' : 'is a parent cgroup frozen?'),
          { path: file, value },
        );
      }
      if (f.kind === 'v1' && i % 100 === 0) this.write(file, value); // nudge, as runc does
      sleepSync(i < 20 ? 1 : 10);
    }
  }

  // ---- destroy ------------------------------------------------------------------------------------------------

  destroy(opts: DestroyOptions = {}): void {
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    if (opts.kill) this.killAll();

    const problems: string[] = [];
    // Child cgroups the container made inside its own cgroup (e.g. with a cgroup namespace) go first.
    for (const h of this.state.hierarchies) {
      if (this.state.created.includes(h.dir) && this.fs.exists(h.dir)) this.removeChildren(h.dir, deadline, problems);
    }
    const leaves = new Set(this.state.hierarchies.map((h) => h.dir));
    const remaining: string[] = [];
    for (const dir of [...this.state.created].reverse()) {
      const outcome = this.rmdirRetry(dir, deadline, leaves.has(dir));
      if (outcome === 'failed') {
        remaining.unshift(dir);
        problems.push(this.busyReason(dir));
      }
      // 'shared': an intermediate parent another container also lives in. Left in place (as runc leaves parents).
    }
    this.state.created = remaining;
    if (problems.length > 0) {
      throw new CgroupError(`cannot remove the container's cgroups: ${problems.join('; ')}`, { path: remaining[0] });
    }
  }

  /** Kills what is in the cgroups this manager made; a cgroup it found already there is never touched. */
  private killAll(): void {
    const ours = this.state.hierarchies.filter((h) => this.state.created.includes(h.dir));
    for (const h of ours) {
      const kill = posix.join(h.dir, 'cgroup.kill');
      if (h.kind === 'v2' && this.fs.exists(kill)) {
        try {
          this.fs.writeFile(kill, '1'); // kills the whole subtree, even frozen tasks
        } catch {
          /* fall back to signalling each pid */
        }
      }
    }
    for (const pid of new Set(ours.flatMap((h) => this.pidsUnder(h.dir)))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    const v1 = ours.find((h) => h.kind === 'v1' && h.controllers.includes('freezer'));
    if (v1 && this.fs.exists(v1.dir) && this.read(posix.join(v1.dir, 'freezer.state')).trim() !== 'THAWED') {
      this.write(posix.join(v1.dir, 'freezer.state'), 'THAWED'); // let the pending SIGKILLs be delivered
    }
  }

  private removeChildren(dir: string, deadline: number, problems: string[]): void {
    let children: string[];
    try {
      children = this.fs.listDirs(dir);
    } catch {
      return;
    }
    for (const c of children) {
      const child = posix.join(dir, c);
      this.removeChildren(child, deadline, problems);
      if (this.rmdirRetry(child, deadline, true) === 'failed') problems.push(this.busyReason(child));
    }
  }

  private rmdirRetry(dir: string, deadline: number, isLeaf: boolean): 'removed' | 'shared' | 'failed' {
    for (;;) {
      try {
        this.fs.rmdir(dir);
        return 'removed';
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT') return 'removed';
        if (code !== 'EBUSY' && code !== 'ENOTEMPTY') return 'failed';
        if (!isLeaf) {
          let hasChildren = true;
          try {
            hasChildren = this.fs.listDirs(dir).length > 0;
          } catch {
            /* assume shared */
          }
          if (hasChildren) return 'shared';
        }
        if (Date.now() > deadline) return 'failed';
        sleepSync(10); // tasks still exiting
      }
    }
  }

  private busyReason(dir: string): string {
    try {
      const pids = this.fs.readFile(posix.join(dir, 'cgroup.procs')).split('\n').filter((l) => l.trim() !== '');
      if (pids.length > 0) return `${dir} still has processes (${pids.slice(0, 10).join(' ')})`;
      const children = this.fs.listDirs(dir);
      if (children.length > 0) return `${dir} still has child cgroups (${children.join(' ')})`;
    } catch {
      /* fall through */
    }
    return `${dir} could not be removed`;
  }

  // ---- helpers ------------------------------------------------------------------------------------------------

  private read(path: string): string {
    try {
      return this.fs.readFile(path);
    } catch (err) {
      const code = errnoCode(err) ?? 'EIO';
      throw new CgroupError(`cannot read ${path}: ${code}`, { path, code, cause: err });
    }
  }

  private words(path: string): string[] {
    return this.read(path).split(/\s+/).filter((w) => w !== '');
  }

  private write(path: string, value: string): void {
    try {
      this.fs.writeFile(path, value);
    } catch (err) {
      throw writeError(path, value, err);
    }
  }

  toJSON(): SavedCgroups {
    return structuredClone(this.state);
  }
}

/** Why a controller file a setting needs can be missing from a cgroup whose controller is there. */
function missingFileReason(file: string): string {
  if (file.startsWith('hugetlb.')) return 'the kernel has no huge pages of this size; /sys/kernel/mm/hugepages lists the sizes it has';
  if (/weight/.test(file)) return 'the kernel offers a block I/O weight only with the BFQ (or, before Linux 5.0, CFQ) I/O scheduler';
  return 'the kernel was built without this feature';
}

function mkdirHint(code: string): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'creating cgroups needs root (or a delegated cgroup)';
    case 'ENOENT':
      return 'the parent cgroup disappeared';
    case 'EAGAIN':
    case 'ENOSPC':
      return 'too many cgroups (cgroup.max.descendants or cgroup.max.depth reached)';
    default:
      return 'unexpected error from the cgroup filesystem';
  }
}

/** A manager for a new container. Computes paths only: nothing is created until create(). */
export function newCgroupManager(opts: NewCgroupManagerOptions): CgroupManager {
  const layout = opts.layout ?? detectCgroupMode();
  const ownText = opts.ownCgroupFile ?? readFileSync('/proc/self/cgroup', 'utf8');
  const hierarchies = resolveCgroupPaths({ layout, id: opts.id, cgroupsPath: opts.cgroupsPath, own: parseProcCgroup(ownText) });
  return new Manager(
    { version: 1, mode: layout.mode, hierarchies, created: [], enabled: [] },
    opts.fs ?? realCgroupFs,
    opts.deviceFilter ?? bpfDeviceFilterInstaller,
  );
}

/** Rebuild a manager from toJSON() output (saved in the container's state). */
export function loadCgroupManager(
  saved: SavedCgroups,
  fs: CgroupFs = realCgroupFs,
  deviceFilter: DeviceFilterInstaller = bpfDeviceFilterInstaller,
): CgroupManager {
  if (!saved || saved.version !== 1 || !Array.isArray(saved.hierarchies) || !Array.isArray(saved.created)) {
    throw new CgroupError('saved cgroup state is missing or from an unknown version');
  }
  return new Manager(
    {
      version: 1,
      mode: saved.mode,
      hierarchies: saved.hierarchies.map((h) => ({ ...h, controllers: [...h.controllers] })),
      created: [...saved.created],
      enabled: [...(saved.enabled ?? [])],
    },
    fs,
    deviceFilter,
  );
}
