// Unix sockets that carry file descriptors (SCM_RIGHTS). Node's `net` cannot pass fds, but a terminal's
// pty master has to travel: from the container's PID-1 stage to the orchestrator, and from there to the
// caller's `--console-socket` (runc's convention: one fd, payload "/dev/ptmx").
// Also plain socket(2), which the network-interface ioctls of netdevice.ts need as a handle, and a
// listening TCP socket for the port proxy.
// Raw x86-64 layouts (see DESIGN.md): msghdr 56 bytes, cmsghdr {size_t len; int level; int type} 16 bytes.
import { SyscallError } from './error.js';
import { closeQuietly } from './fs.js';
import { check, errno, fn, koffi } from './libc.js';

export const AF_UNIX = 1;
export const AF_INET = 2;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_CTRUNC = 0x8;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const EINTR = 4;
const EINVAL = 22;
const ENAMETOOLONG = 36;
const ECONNRESET = 104;

const SUN_PATH_MAX = 108; // sizeof(sockaddr_un.sun_path), terminating NUL included
const MSGHDR_SIZE = 56;
const CMSGHDR_SIZE = 16;
/** Room for this many fds in recvFd's control buffer: more than one arriving is detected, then refused. */
const RECV_FD_ROOM = 8;
/** runc reads the payload (the fd's name) with one recvmsg of at most this many bytes. */
const MAX_PAYLOAD = 4096;

const cmsgLen = (n: number): number => CMSGHDR_SIZE + n;
const cmsgSpace = (n: number): number => CMSGHDR_SIZE + ((n + 7) & ~7);

/** Retries a call that failed with EINTR (a signal arrived while it blocked). */
function retrying(call: () => number | bigint, syscall: string, path?: string): number {
  for (;;) {
    const r = call();
    if ((r === -1 || r === -1n) && errno() === EINTR) continue;
    return check(r, syscall, path);
  }
}

/** socket(2): a new socket of `domain` (AF_INET...) and `type` (SOCK_DGRAM | SOCK_CLOEXEC...); returns its fd. */
export function socket(domain: number, type: number, protocol = 0): number {
  return check(fn('int socket(int domain, int type, int protocol)')(domain, type, protocol), 'socket');
}

/** A connected pair of AF_UNIX stream sockets, both close-on-exec. */
export function socketpair(): [number, number] {
  const sv = Buffer.alloc(8);
  check(fn('int socketpair(int domain, int type, int protocol, void *sv)')(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 'socketpair');
  return [sv.readInt32LE(0), sv.readInt32LE(4)];
}

/** Connects a new (close-on-exec) AF_UNIX stream socket to `path`, blocking; returns its fd. */
export function connectUnix(path: string): number {
  const name = Buffer.from(path);
  if (name.length === 0 || name.includes(0)) throw new SyscallError('connect', EINVAL, path, 'a socket path must be non-empty and contain no NUL byte');
  if (name.length >= SUN_PATH_MAX) {
    throw new SyscallError('connect', ENAMETOOLONG, path, `a unix socket path holds at most ${SUN_PATH_MAX - 1} bytes`);
  }
  // sockaddr_un: sa_family_t (u16) + path + NUL
  const addr = Buffer.alloc(2 + name.length + 1);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);

  const sock = check(fn('int socket(int domain, int type, int protocol)')(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 'socket');
  try {
    // A connect interrupted by a signal goes on in the background; a unix stream connect completes at
    // once, so EINTR here is practically never seen and a retry reports EISCONN at worst.
    retrying(() => fn('int connect(int fd, const void *addr, uint32_t len)')(sock, addr, addr.length), 'connect', path);
  } catch (err) {
    closeQuietly(sock);
    throw err;
  }
  return sock;
}

/** sockaddr_un for `path` (u16 AF_UNIX + path + NUL), refusing what the kernel cannot take. */
function unixAddress(path: string, syscall: string): Buffer {
  const name = Buffer.from(path);
  if (name.length === 0 || name.includes(0)) throw new SyscallError(syscall, EINVAL, path, 'a socket path must be non-empty and contain no NUL byte');
  if (name.length >= SUN_PATH_MAX) {
    throw new SyscallError(syscall, ENAMETOOLONG, path, `a unix socket path holds at most ${SUN_PATH_MAX - 1} bytes`);
  }
  const addr = Buffer.alloc(2 + name.length + 1);
  addr.writeUInt16LE(AF_UNIX, 0);
  name.copy(addr, 2);
  return addr;
}

/**
 * A new (close-on-exec) AF_UNIX stream socket bound to `path` and listening, as a `--console-socket`
 * receiver does; returns its fd. The socket file stays until the caller removes it.
 */
export function listenUnix(path: string, backlog = 1): number {
  const addr = unixAddress(path, 'bind');
  const sock = check(fn('int socket(int domain, int type, int protocol)')(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 'socket');
  try {
    check(fn('int bind(int fd, const void *addr, uint32_t len)')(sock, addr, addr.length), 'bind', path);
    check(fn('int listen(int fd, int backlog)')(sock, backlog), 'listen', path);
  } catch (err) {
    closeQuietly(sock);
    throw err;
  }
  return sock;
}

const SO_REUSEADDR = 2;

/** A close-on-exec IPv4 TCP socket bound to `ip` (host order) and `port`, and listening; returns its fd. */
export function listenTcp4(ip: number, port: number, backlog: number, what: string): number {
  const sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC);
  try {
    // A listener restarted on the same port must not wait for the old connections' TIME_WAIT.
    const one = Buffer.alloc(4);
    one.writeInt32LE(1);
    check(fn('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)')(sock, SOL_SOCKET, SO_REUSEADDR, one, 4), 'setsockopt', what);
    const sin = Buffer.alloc(16); // sockaddr_in: u16 family, u16 port (big-endian), u32 address (big-endian), 8 zero bytes
    sin.writeUInt16LE(AF_INET, 0);
    sin.writeUInt16BE(port, 2);
    sin.writeUInt32BE(ip, 4);
    check(fn('int bind(int fd, const void *addr, uint32_t len)')(sock, sin, 16), 'bind', what);
    check(fn('int listen(int fd, int backlog)')(sock, backlog), 'listen', what);
  } catch (err) {
    closeQuietly(sock);
    throw err;
  }
  return sock;
}

/** Accepts one connection on the listening socket `fd`, blocking; the new fd is close-on-exec. */
export function acceptUnix(fd: number): number {
  return retrying(() => fn('int accept4(int fd, void *addr, void *addrlen, int flags)')(fd, null, null, SOCK_CLOEXEC), 'accept4');
}

const POLLIN = 0x1;

/**
 * Waits at most `timeoutMs` (0: just looks) for `fd` to be readable, or hung up / in error, which a
 * read then reports; true if so. Blocks the calling thread meanwhile: poll with 0 from an event loop.
 */
export function pollReadable(fd: number, timeoutMs: number): boolean {
  const pfd = Buffer.alloc(8); // struct pollfd { int fd; short events; short revents; }
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  const n = retrying(() => fn('int poll(void *fds, unsigned long nfds, int timeout)')(pfd, 1, timeoutMs), 'poll');
  return n > 0 && pfd.readInt16LE(6) !== 0;
}

/**
 * One buffer holding a msghdr, its single iovec, the control area and the data, all pointing into
 * itself: the only thing passed to sendmsg/recvmsg is this buffer, so nothing a raw pointer refers to
 * can be collected during the call.
 */
function messageArena(controlSize: number, dataSize: number): { arena: Buffer; control: Buffer; data: Buffer } {
  const IOV = MSGHDR_SIZE;
  const CONTROL = IOV + 16;
  const DATA = CONTROL + controlSize;
  const arena = Buffer.alloc(DATA + dataSize);
  const base = koffi.address(arena);
  arena.writeBigUInt64LE(0n, 0); // msg_name
  arena.writeUInt32LE(0, 8); // msg_namelen
  arena.writeBigUInt64LE(base + BigInt(IOV), 16); // msg_iov
  arena.writeBigUInt64LE(1n, 24); // msg_iovlen
  arena.writeBigUInt64LE(base + BigInt(CONTROL), 32); // msg_control
  arena.writeBigUInt64LE(BigInt(controlSize), 40); // msg_controllen
  arena.writeInt32LE(0, 48); // msg_flags
  arena.writeBigUInt64LE(base + BigInt(DATA), IOV); // iov_base
  arena.writeBigUInt64LE(BigInt(dataSize), IOV + 8); // iov_len
  return { arena, control: arena.subarray(CONTROL, DATA), data: arena.subarray(DATA) };
}

/**
 * Sends `fd` over the connected unix socket `sock` as one SCM_RIGHTS message, with `payload` as its
 * data (at least one byte: a message without data does not carry the fd on a stream socket).
 */
export function sendFd(sock: number, fd: number, payload: string): void {
  const data = Buffer.from(payload);
  if (data.length === 0) throw new SyscallError('sendmsg', EINVAL, undefined, 'an fd must travel with at least one byte of payload');

  const { arena, control, data: body } = messageArena(cmsgSpace(4), data.length);
  data.copy(body);
  control.writeBigUInt64LE(BigInt(cmsgLen(4)), 0); // cmsg_len
  control.writeInt32LE(SOL_SOCKET, 8); // cmsg_level
  control.writeInt32LE(SCM_RIGHTS, 12); // cmsg_type
  control.writeInt32LE(fd, 16); // the fd

  const sendmsg = fn('long sendmsg(int fd, const void *msg, int flags)');
  let sent = retrying(() => sendmsg(sock, arena, MSG_NOSIGNAL), 'sendmsg');
  // A stream socket may take part of the data; the fd went with the first byte, the rest follows plainly.
  const send = fn('long send(int fd, const void *buf, size_t len, int flags)');
  while (sent < data.length) {
    const rest = data.subarray(sent);
    sent += retrying(() => send(sock, rest, rest.length, MSG_NOSIGNAL), 'send');
  }
}

/**
 * Receives one fd sent with sendFd (or runc's console-socket convention), blocking. The fd arrives
 * close-on-exec. Refuses a truncated control message and anything but exactly one fd (closing what came).
 */
export function recvFd(sock: number): { fd: number; payload: string } {
  const { arena, control, data } = messageArena(cmsgSpace(4 * RECV_FD_ROOM), MAX_PAYLOAD);
  const recvmsg = fn('long recvmsg(int fd, void *msg, int flags)');
  const n = retrying(() => recvmsg(sock, arena, MSG_CMSG_CLOEXEC), 'recvmsg');

  // Collect every fd that arrived, so that whatever goes wrong below none of them leaks.
  const fds: number[] = [];
  const controllen = Number(arena.readBigUInt64LE(40));
  let off = 0;
  while (off + CMSGHDR_SIZE <= controllen) {
    const len = Number(control.readBigUInt64LE(off));
    if (len < CMSGHDR_SIZE || off + len > controllen) break;
    const level = control.readInt32LE(off + 8);
    const type = control.readInt32LE(off + 12);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      for (let p = off + CMSGHDR_SIZE; p + 4 <= off + len; p += 4) fds.push(control.readInt32LE(p));
    }
    off += cmsgSpace(len - CMSGHDR_SIZE);
  }
  // The kernel also reports MSG_CMSG_CLOEXEC back in msg_flags: only MSG_CTRUNC matters.
  const flags = arena.readInt32LE(48);
  const fail = (code: number, detail: string): never => {
    for (const f of fds) closeQuietly(f);
    throw new SyscallError('recvmsg', code, undefined, detail);
  };
  if (flags & MSG_CTRUNC) fail(EINVAL, `the control message was truncated (more than ${RECV_FD_ROOM} fds sent?)`);
  if (n === 0 && fds.length === 0) fail(ECONNRESET, 'the peer closed the socket without sending an fd');
  if (fds.length !== 1) fail(EINVAL, `expected exactly one fd (SCM_RIGHTS), got ${fds.length}`);
  return { fd: fds[0]!, payload: data.toString('utf8', 0, n) };
}
