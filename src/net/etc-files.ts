// The three files of a container's /etc that describe its network: /etc/hostname, /etc/hosts (localhost
// and the container's own name and address) and /etc/resolv.conf (the host's nameservers, minus the
// loopback ones, which inside the container would be the container itself).
//
// The root filesystem is not trusted: an image may ship /etc/resolv.conf as a symlink (systemd images do,
// to ../run/systemd/resolve/stub-resolv.conf) or make /etc itself one. /etc is resolved inside the rootfs,
// and each file is written to a new file beside it and renamed over it, which replaces a symlink instead
// of following it out of the container.
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import * as path from 'node:path';
import { secureJoin } from '../fs/in-root.js';
import { NetworkSetupError } from './veth.js';

export interface EtcFilesOptions {
  hostname: string;
  /** The container's address (bridge mode); without it the name goes on the 127.0.0.1 line. */
  address?: string;
  /** More /etc/hosts entries, each [name, address]. */
  extraHosts?: Array<[string, string]>;
  /** The host files nameservers are taken from, first one with a usable nameserver wins (tests change it). */
  resolvConfSources?: string[];
}

/** The host's resolv.conf, then systemd-resolved's list of real upstream servers (when the first only has its 127.0.0.53 stub). */
const HOST_RESOLV_CONF = ['/etc/resolv.conf', '/run/systemd/resolve/resolv.conf'];

const HOSTNAME_RE = /^(?=.{1,64}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

function checkHostname(name: string, what = 'hostname'): void {
  if (!HOSTNAME_RE.test(name)) {
    throw new NetworkSetupError(`${what} "${name}" is not a valid host name (letters, digits, '-' and '.', at most 64 bytes)`);
  }
}

export function writeEtcFiles(rootfs: string, opts: EtcFilesOptions): void {
  checkHostname(opts.hostname);
  if (opts.address !== undefined && isIP(opts.address) === 0) throw new NetworkSetupError(`address "${opts.address}" is not an IP address`);
  for (const entry of opts.extraHosts ?? []) {
    const [name, address] = entry;
    if (isIP(address ?? '') === 0) {
      throw new NetworkSetupError(`extra host entry ${JSON.stringify(entry)}: "${address}" is not an IP address (entries are [name, address])`);
    }
    checkHostname(name, 'extra host name');
  }

  const etc = secureJoin(rootfs, 'etc');
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(etc);
  } catch {
    fs.mkdirSync(etc, { mode: 0o755 });
  }
  if (st && !st.isDirectory()) throw new NetworkSetupError(`${etc} is not a directory`);

  replaceFile(etc, 'hostname', `${opts.hostname}\n`);
  replaceFile(etc, 'hosts', hostsFile(opts));
  replaceFile(etc, 'resolv.conf', resolvConf(opts.resolvConfSources ?? HOST_RESOLV_CONF));
}

export function hostsFile(opts: Pick<EtcFilesOptions, 'hostname' | 'address' | 'extraHosts'>): string {
  const lines = ['# written by tslab'];
  lines.push(opts.address ? '127.0.0.1\tlocalhost' : `127.0.0.1\tlocalhost ${opts.hostname}`);
  lines.push('::1\tlocalhost ip6-localhost ip6-loopback');
  if (opts.address) lines.push(`${opts.address}\t${opts.hostname}`);
  for (const [name, address] of opts.extraHosts ?? []) lines.push(`${address}\t${name}`);
  return lines.join('\n') + '\n';
}

/** A resolv.conf for the container from the first source that has a usable (non-loopback IPv4) nameserver. */
export function resolvConf(sources: string[]): string {
  for (const source of sources) {
    let text: string;
    try {
      text = fs.readFileSync(source, 'utf8');
    } catch {
      continue;
    }
    const nameservers: string[] = [];
    const other: string[] = [];
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      const [key, ...rest] = line.split(/\s+/);
      if (key === 'nameserver' && rest[0]) {
        // IPv4 only (the bridge network has no IPv6), and not 127.x: that would be the container's own lo.
        if (isIP(rest[0]) === 4 && !rest[0].startsWith('127.')) nameservers.push(`nameserver ${rest[0]}`);
      } else if (key === 'search' || key === 'domain' || key === 'options') {
        other.push(line);
      }
    }
    if (nameservers.length) return ['# written by tslab from the host\'s ' + source, ...other, ...nameservers].join('\n') + '\n';
  }
  return '# written by tslab: the host has no nameserver a container can use\n';
}

/** Writes `dir/name` as a new file renamed into place (a symlink there is replaced, never followed). */
function replaceFile(dir: string, name: string, content: string): void {
  const target = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.tslab-${process.pid}.tmp`);
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, content, { mode: 0o644, flag: 'wx' });
  try {
    fs.chmodSync(tmp, 0o644); // whatever the umask
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') throw new NetworkSetupError(`${target} is a directory: cannot write the container's ${name}`);
    throw err;
  }
}
