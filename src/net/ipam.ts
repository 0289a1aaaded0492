// Address management for one bridge: which container (the owner) holds which address of the subnet. The
// record is <stateDir>/ipam-<bridge>.json; every read-modify-write holds an flock on that file, so
// concurrent `tslab run`s never get the same address. The file is replaced atomically (rename), so a
// crash mid-write never loses the record; a waiter that locked the replaced file notices (its inode is no
// longer the path's) and locks again.
//
// Addresses are handed out round-robin after the last one given, so an address just released is reused
// last: a peer that still has the old container's MAC in its ARP cache is unlikely to meet its successor.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LOCK_EX, flock } from '../linux/fs.js';
import { type BridgeConfig, type Subnet, formatIPv4, hostRange, parseIPv4, subnetContains, validateBridgeConfig } from './bridge.js';
import { NetworkSetupError } from './veth.js';

export class IpamError extends NetworkSetupError {}

interface IpamRecord {
  subnet: string;
  /** The last address handed out; the next search starts after it. */
  last?: string;
  /** owner -> address */
  allocations: Record<string, string>;
}

export class Ipam {
  readonly file: string;
  private readonly subnet: Subnet;
  private readonly gateway: number;

  constructor(
    readonly stateDir: string,
    readonly cfg: BridgeConfig,
  ) {
    this.subnet = validateBridgeConfig(cfg);
    this.gateway = parseIPv4(cfg.gateway)!;
    this.file = path.join(stateDir, `ipam-${cfg.name}.json`);
  }

  /**
   * An address for `owner` (a container id), recorded until `release(owner)`. An owner that already holds
   * one gets the same address again. Throws an IpamError when every address of the subnet is taken.
   */
  allocate(owner: string): string {
    checkOwner(owner);
    return this.update((rec) => {
      const held = rec.allocations[owner];
      if (held !== undefined) return held;
      const taken = new Set<number>();
      for (const a of Object.values(rec.allocations)) {
        const n = parseIPv4(a);
        if (n !== undefined) taken.add(n);
      }
      taken.add(this.gateway);
      const { first, last } = hostRange(this.subnet);
      const count = last - first + 1;
      const prev = rec.last !== undefined ? parseIPv4(rec.last) : undefined;
      const start = prev !== undefined && subnetContains(this.subnet, prev) && prev >= first && prev <= last ? prev - first + 1 : 0;
      for (let i = 0; i < count; i++) {
        const candidate = first + ((start + i) % count);
        if (taken.has(candidate)) continue;
        const address = formatIPv4(candidate);
        rec.allocations[owner] = address;
        rec.last = address;
        return address;
      }
      const inUse = Object.values(rec.allocations).filter((a) => {
        const n = parseIPv4(a);
        return n !== undefined && subnetContains(this.subnet, n);
      }).length;
      throw new IpamError(
        `no free address left in ${this.cfg.subnet} on bridge ${this.cfg.name}: all ${inUse} container addresses are in use ` +
          `(the gateway ${this.cfg.gateway} takes one more). Remove containers, or set TSLAB_SUBNET to a larger subnet.`,
      );
    });
  }

  /** Frees the address of `owner`; nothing happens if it holds none. */
  release(owner: string): void {
    checkOwner(owner);
    this.update((rec) => {
      delete rec.allocations[owner];
    });
  }

  /**
   * Releases every owner not in `owners` (the containers that still exist), e.g. after a crash between
   * allocate and the container's record being written; returns the owners released.
   */
  retain(owners: Iterable<string>): string[] {
    const keep = new Set(owners);
    return this.update((rec) => {
      const gone = Object.keys(rec.allocations).filter((o) => !keep.has(o));
      for (const o of gone) delete rec.allocations[o];
      return gone;
    });
  }

  /** owner -> address, as recorded now. */
  allocated(): Record<string, string> {
    return this.update((rec) => ({ ...rec.allocations }), false);
  }

  /** The owner holding `address`, if any. */
  ownerOf(address: string): string | undefined {
    return Object.entries(this.allocated()).find(([, a]) => a === address)?.[0];
  }

  /** Runs `fn` on the record under the lock; writes the record back afterwards when `write`. */
  private update<T>(fn: (rec: IpamRecord) => T, write = true): T {
    fs.mkdirSync(this.stateDir, { recursive: true, mode: 0o711 });
    const fd = this.lock();
    try {
      const rec = this.read(fd);
      const result = fn(rec);
      if (write) {
        const tmp = path.join(this.stateDir, `.${path.basename(this.file)}.${process.pid}.tmp`);
        fs.writeFileSync(tmp, JSON.stringify(rec, null, 1) + '\n', { mode: 0o644 });
        fs.renameSync(tmp, this.file);
      }
      return result;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Opens and flocks the record file, retrying while it is being replaced under us. */
  private lock(): number {
    for (;;) {
      const fd = fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
      try {
        flock(fd, LOCK_EX, this.file);
        let current: fs.Stats | undefined;
        try {
          current = fs.statSync(this.file);
        } catch {
          current = undefined; // removed meanwhile: open it again
        }
        if (current && current.ino === fs.fstatSync(fd).ino) return fd;
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
      fs.closeSync(fd);
    }
  }

  private read(fd: number): IpamRecord {
    const text = fs.readFileSync(fd, 'utf8');
    if (!text.trim()) return { subnet: this.cfg.subnet, allocations: {} };
    let rec: IpamRecord;
    try {
      rec = JSON.parse(text) as IpamRecord;
    } catch (err) {
      throw new IpamError(`${this.file} is not valid JSON (${(err as Error).message}): fix or remove it while no container uses ${this.cfg.name}`);
    }
    if (typeof rec !== 'object' || rec === null || typeof rec.allocations !== 'object' || rec.allocations === null) {
      throw new IpamError(`${this.file} has no "allocations" object: fix or remove it while no container uses ${this.cfg.name}`);
    }
    // Addresses of an earlier subnet stay recorded (their owners may still run) but never collide with the new ones.
    rec.subnet = this.cfg.subnet;
    return rec;
  }
}

function checkOwner(owner: string): void {
  if (typeof owner !== 'string' || owner.length === 0) throw new IpamError('an address owner must be a non-empty string (the container id)');
}
