// Network interfaces through the old ioctl interface of netdevice(7): each request takes a `struct ifreq`
// naming the interface, on any socket of the network namespace the interface lives in (an AF_INET
// datagram socket is the usual handle). Raw x86-64 layout: ifreq is 40 bytes, char ifr_name[IFNAMSIZ]
// (16, NUL-terminated) then a union whose `short ifr_flags` sits at offset 16.
import { SyscallError } from './error.js';
import { check, fn } from './libc.js';

export const SIOCGIFFLAGS = 0x8913;
export const SIOCSIFFLAGS = 0x8914;
/** The interface is administratively up (`ip link set X up`). */
export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
/** Bytes of ifr_name, the terminating NUL included: a name holds at most 15. */
export const IFNAMSIZ = 16;

const IFREQ_SIZE = 40;
const IFR_FLAGS = 16;
const EINVAL = 22;

// ioctl is variadic: one fixed declaration per argument kind (ABI-safe on x86-64).
const ioctlPtr = () => fn('int ioctl(int fd, unsigned long request, void *arg)');

function ifreq(name: string, syscall: string): Buffer {
  const bytes = Buffer.from(name);
  if (bytes.length === 0 || bytes.length >= IFNAMSIZ || bytes.includes(0)) {
    throw new SyscallError(syscall, EINVAL, name, `an interface name holds 1 to ${IFNAMSIZ - 1} bytes and no NUL`);
  }
  const req = Buffer.alloc(IFREQ_SIZE);
  bytes.copy(req, 0);
  return req;
}

/** SIOCGIFFLAGS: the IFF_* flags of interface `name`, asked through the socket `sock`. */
export function getInterfaceFlags(sock: number, name: string): number {
  const req = ifreq(name, 'ioctl(SIOCGIFFLAGS)');
  check(ioctlPtr()(sock, SIOCGIFFLAGS, req), 'ioctl(SIOCGIFFLAGS)', name);
  return req.readUInt16LE(IFR_FLAGS);
}

/** SIOCSIFFLAGS: sets the IFF_* flags of interface `name` (all of them: read, change, write back). */
export function setInterfaceFlags(sock: number, name: string, flags: number): void {
  const req = ifreq(name, 'ioctl(SIOCSIFFLAGS)');
  req.writeUInt16LE(flags & 0xffff, IFR_FLAGS);
  check(ioctlPtr()(sock, SIOCSIFFLAGS, req), 'ioctl(SIOCSIFFLAGS)', name);
}
