// LESSON 6 — Network namespace: lo, a veth pair, a ping
//
// A new network namespace has one interface, "lo", and it starts down: even 127.0.0.1 does not answer.
// Interface flags are read and written with ioctls on any socket of the namespace. Write
// bringUpInterface(name): open an AF_INET, SOCK_DGRAM socket, read the flags (getInterfaceFlags, the
// SIOCGIFFLAGS ioctl), set them again with IFF_UP added (setInterfaceFlags, SIOCSIFFLAGS), close it.
//
// Then the cable out, over netlink (a route socket: withRouteSocket). Write addVethPair(hostName,
// peerName, pid): one createVethPair with the peer made in the network namespace of `pid`. And
// configureInterface(name, address, prefixLength): addIPv4Address, then setLinkUp. The launcher calls it
// once on the host (the host end) and once inside the container's namespace (eth0).
import { AF_INET, IFF_UP, SOCK_CLOEXEC, SOCK_DGRAM, addIPv4Address, close, createVethPair, getInterfaceFlags, setInterfaceFlags, setLinkUp, socket, withRouteSocket } from '../syscalls.js';
import { NotWrittenYet } from '../lab-support.js';

export function bringUpInterface(name: string): void {
  // TODO(lesson 6): read the interface's flags, add IFF_UP, write them back.
  throw new NotWrittenYet(6, 'bringUpInterface', 'loopback.ts', 'const sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC); keep the other flags: getInterfaceFlags(sock, name) | IFF_UP');
}

export function addVethPair(hostName: string, peerName: string, pid: number): void {
  // TODO(lesson 6): create the pair, its peer inside the network namespace of `pid`.
  throw new NotWrittenYet(6, 'addVethPair', 'loopback.ts', 'withRouteSocket((sock) => createVethPair(sock, hostName, peerName, pid)): the last argument puts the peer in that namespace');
}

export function configureInterface(name: string, address: string, prefixLength: number): void {
  // TODO(lesson 6): give the interface its address, then bring it up.
  throw new NotWrittenYet(6, 'configureInterface', 'loopback.ts', 'withRouteSocket((sock) => { addIPv4Address(sock, name, address, prefixLength); setLinkUp(sock, name); })');
}
