// LESSON 6 — Network namespace: lo, a veth pair, a ping
//
// A new network namespace has one interface, "lo", and it starts down: even 127.0.0.1 does not answer.
// Interface flags are read and written with ioctls on any socket of the namespace. Write
// bringUpInterface(name): open an AF_INET, SOCK_DGRAM socket, read the flags (getInterfaceFlags, the
// SIOCGIFFLAGS ioctl), set them again with IFF_UP added (setInterfaceFlags, SIOCSIFFLAGS), close it.
import { AF_INET, IFF_UP, SOCK_CLOEXEC, SOCK_DGRAM, close, getInterfaceFlags, setInterfaceFlags, socket } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export function bringUpInterface(name: string): void {
  // TODO(lesson 6): read the interface's flags, add IFF_UP, write them back.
  throw new NotWrittenYet(6, 'bringUpInterface', 'loopback.ts', 'const sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC); keep the other flags: getInterfaceFlags(sock, name) | IFF_UP');
}
