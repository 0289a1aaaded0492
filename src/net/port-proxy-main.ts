// The port proxy process of `tslab run -p` (started by port-proxy.ts, detached): accepts TCP connections
// and relays each to the container. Plain node:net, so it starts without loading libc bindings.
//
//   port-proxy-main (--listen-fd FD | --listen ADDRESS:PORT) --target ADDRESS:PORT [--watch PID:STARTTIME] [--label TEXT]
//
// --listen-fd: an already listening socket (how port-proxy.ts starts it); --watch: exit once that process
// (the container) is gone, so a proxy never outlives its container even if nobody stops it.
import * as net from 'node:net';
import { isAlive } from '../linux/proc.js';

function fail(message: string): never {
  process.stderr.write(`port-proxy: ${message}\n`);
  process.exit(2);
}

function hostPort(text: string | undefined, what: string): { host: string; port: number } {
  const m = text ? /^(.+):(\d{1,5})$/.exec(text) : null;
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) fail(`${what} must be ADDRESS:PORT, got ${text ?? 'nothing'}`);
  return { host: m[1]!, port: Number(m[2]) };
}

const opts = new Map<string, string>();
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  if (!argv[i]!.startsWith('--') || argv[i + 1] === undefined) fail(`unexpected argument ${argv[i]}`);
  opts.set(argv[i]!.slice(2), argv[i + 1]!);
}
const target = hostPort(opts.get('target'), '--target');
const label = opts.get('label') ?? `-> ${target.host}:${target.port}`;

const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
  const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', (err) => {
    process.stderr.write(`port-proxy ${label}: ${err.message}\n`);
    close();
  });
  upstream.once('connect', () => {
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // Each direction ends on its own (half-close), as a client that shuts down its writing side expects.
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  });
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
});
server.on('error', (err) => fail(`${label}: ${err.message}`));

const fd = opts.get('listen-fd');
if (fd !== undefined) {
  if (!/^\d+$/.test(fd)) fail(`--listen-fd must be a number, got ${fd}`);
  server.listen({ fd: Number(fd) });
} else {
  const listen = hostPort(opts.get('listen'), '--listen');
  server.listen(listen.port, listen.host);
}

const watch = opts.get('watch');
if (watch !== undefined) {
  const m = /^(\d+):(\d+)$/.exec(watch);
  if (!m) fail(`--watch must be PID:STARTTIME, got ${watch}`);
  const [pid, startTime] = [Number(m[1]), Number(m[2])];
  setInterval(() => {
    if (!isAlive(pid, startTime)) process.exit(0);
  }, 1000);
}

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
