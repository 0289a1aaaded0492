// `tslab run -p HOST:CONTAINER`: a userspace TCP proxy, one detached Node process per mapping
// (port-proxy-main.ts), that accepts on the host port and relays each connection to the container's
// address on the bridge. Userspace, so no iptables rule and no ip_forward: the connection the container
// sees comes from the bridge's gateway address, not from the real client.
//
// The listening socket is made here, synchronously, before the proxy process starts (and handed to it as
// fd 3): a port in use is reported to the caller as it happens, and a client that connects at once waits
// in the backlog instead of being refused while the proxy boots.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import { SyscallError } from '../linux/error.js';
import { listenTcp4 } from '../linux/socket.js';
import { isAlive, readProcStat, sleepSync } from '../linux/proc.js';
import { parseIPv4 } from './bridge.js';
import { helperEnv } from '../fs/package.js';

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp';
  /** The host address to listen on ("127.0.0.1:8080:80"); 0.0.0.0, every IPv4 address, when absent. */
  hostAddress?: string;
}

export class PortMappingError extends Error {}

/** The host address a mapping listens on when it names none. */
const DEFAULT_LISTEN_ADDRESS = '0.0.0.0';

function parsePort(text: string, spec: string, which: string): number {
  if (/^\d+-\d+$/.test(text)) throw new PortMappingError(`-p ${spec}: port ranges are not supported; give one ${which} port per -p`);
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new PortMappingError(`-p ${spec}: ${which} port "${text}" must be a number from 1 to 65535`);
  }
  return Number(text);
}

/** "8080:80", "8080:80/tcp" or "127.0.0.1:8080:80[/tcp]" -> a mapping; a PortMappingError saying what is wrong otherwise. */
export function parsePortMapping(spec: string): PortMapping {
  const text = spec.trim();
  if (!text) throw new PortMappingError('-p needs HOST_PORT:CONTAINER_PORT, for example -p 8080:80');
  const slash = text.lastIndexOf('/');
  const main = slash >= 0 ? text.slice(0, slash) : text;
  const protocol = slash >= 0 ? text.slice(slash + 1).toLowerCase() : 'tcp';
  if (protocol === 'udp' || protocol === 'sctp') {
    throw new PortMappingError(`-p ${spec}: only tcp is forwarded (the port proxy does not relay ${protocol})`);
  }
  if (protocol !== 'tcp') throw new PortMappingError(`-p ${spec}: unknown protocol "${protocol}" (only tcp is supported)`);
  const parts = main.split(':');
  if (parts.length === 1) {
    throw new PortMappingError(`-p ${spec}: give the host port too, as HOST_PORT:CONTAINER_PORT (for example -p 8080:${parts[0]})`);
  }
  if (parts.length > 3) throw new PortMappingError(`-p ${spec}: expected [HOST_ADDRESS:]HOST_PORT:CONTAINER_PORT[/tcp] (IPv6 host addresses are not supported)`);
  const [hostAddress, hostText, containerText] = parts.length === 3 ? parts : [undefined, ...parts];
  const mapping: PortMapping = {
    hostPort: parsePort(hostText!, spec, 'host'),
    containerPort: parsePort(containerText!, spec, 'container'),
    protocol: 'tcp',
  };
  if (hostAddress !== undefined) {
    if (parseIPv4(hostAddress) === undefined) throw new PortMappingError(`-p ${spec}: host address "${hostAddress}" is not an IPv4 address`);
    mapping.hostAddress = hostAddress;
  }
  return mapping;
}

/** "0.0.0.0:8080->80/tcp", as `docker ps` shows it. */
export function formatPortMapping(m: PortMapping): string {
  return `${m.hostAddress ?? DEFAULT_LISTEN_ADDRESS}:${m.hostPort}->${m.containerPort}/${m.protocol}`;
}

/** A close-on-exec IPv4 TCP socket bound to address:port and listening; returns its fd. */
function listenTcp(address: string, port: number, backlog = 511): number {
  const ip = parseIPv4(address);
  if (ip === undefined) throw new PortMappingError(`${address} is not an IPv4 address`);
  return listenTcp4(ip, port, backlog, `${address}:${port}`);
}

export interface StartPortProxyOptions {
  /** The proxy exits by itself once this process (the container) is gone. */
  watch?: { pid: number; startTime: number };
  /** Where the proxy's errors go (appended); discarded when absent. */
  logFile?: string;
}

/**
 * Starts a detached proxy process listening on hostAddress (default 0.0.0.0):hostPort and forwarding to
 * containerAddress:containerPort; `proxyScript` is the built port-proxy-main (dist/net/port-proxy-main.cjs).
 * Returns its pid and /proc start time (stop it with stopPortProxy). A port in use -> PortMappingError.
 */
export function startPortProxy(
  mapping: PortMapping,
  containerAddress: string,
  proxyScript: string,
  opts: StartPortProxyOptions = {},
): { pid: number; startTime: number } {
  if (mapping.protocol !== 'tcp') throw new PortMappingError(`only tcp is forwarded, not ${String(mapping.protocol)}`);
  if (isIP(containerAddress) !== 4) throw new PortMappingError(`container address "${containerAddress}" is not an IPv4 address`);
  if (!fs.existsSync(proxyScript)) throw new PortMappingError(`the port proxy program ${proxyScript} does not exist (run npm run build)`);
  const listen = mapping.hostAddress ?? DEFAULT_LISTEN_ADDRESS;

  let fd: number;
  try {
    fd = listenTcp(listen, mapping.hostPort);
  } catch (err) {
    if (err instanceof SyscallError) {
      const where = `${listen}:${mapping.hostPort}`;
      if (err.code === 'EADDRINUSE') {
        throw new PortMappingError(`host port ${mapping.hostPort} is already in use (${where}; by another container's -p or a program on the host): choose another host port`);
      }
      if (err.code === 'EACCES') throw new PortMappingError(`host port ${mapping.hostPort}: ports below 1024 need root (CAP_NET_BIND_SERVICE)`);
      if (err.code === 'EADDRNOTAVAIL') throw new PortMappingError(`host address ${listen} is not an address of this machine`);
    }
    throw err;
  }

  let logFd: number | undefined;
  try {
    if (opts.logFile) logFd = fs.openSync(opts.logFile, 'a', 0o644);
    const args = [proxyScript, '--listen-fd', '3', '--target', `${containerAddress}:${mapping.containerPort}`, '--label', formatPortMapping(mapping)];
    if (opts.watch) args.push('--watch', `${opts.watch.pid}:${opts.watch.startTime}`);
    const out = logFd ?? 'ignore';
    // Its own session (no terminal signals), cwd / (it must not keep a directory of the caller busy).
    const child = spawn(process.execPath, args, { detached: true, cwd: '/', env: helperEnv(), stdio: ['ignore', out, out, fd] });
    child.on('error', () => undefined); // reported below through the missing pid
    child.unref();
    const pid = child.pid;
    const stat = pid === undefined ? undefined : readProcStat(pid);
    if (pid === undefined || stat === undefined) throw new PortMappingError(`the port proxy for ${formatPortMapping(mapping)} did not start`);
    return { pid, startTime: stat.startTime };
  } finally {
    fs.closeSync(fd);
    if (logFd !== undefined) fs.closeSync(logFd);
  }
}

/** Stops a proxy started by startPortProxy (SIGTERM, then SIGKILL after `timeoutMs`); true if it was running. */
export function stopPortProxy(proxy: { pid: number; startTime: number }, timeoutMs = 2000): boolean {
  if (!isAlive(proxy.pid, proxy.startTime)) return false;
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(proxy.pid, sig);
    } catch {
      /* gone meanwhile */
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (!threadsGone(proxy)) {
    if (Date.now() > deadline) {
      signal('SIGKILL');
      break;
    }
    sleepSync(5);
  }
  return true;
}

/**
 * Whether every thread of the proxy has exited. Its main thread shows as a zombie while Node's other
 * threads are still exiting, and until the last of them has, they hold the listening socket: the port is
 * free only then (a caller that binds it at once got EADDRINUSE).
 */
function threadsGone(proxy: { pid: number; startTime: number }): boolean {
  if (isAlive(proxy.pid, proxy.startTime)) return false;
  if (readProcStat(proxy.pid)?.startTime !== proxy.startTime) return true; // reaped (the pid may be another's now)
  try {
    return fs.readdirSync(`/proc/${proxy.pid}/task`).length <= 1;
  } catch {
    return true; // reaped meanwhile
  }
}
