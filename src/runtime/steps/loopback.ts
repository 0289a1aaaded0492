// Lesson 6: a new network namespace holds one interface, the loopback "lo", and it starts down: even
// 127.0.0.1 is unreachable. Interface flags are read and written with ioctls (SIOCGIFFLAGS,
// SIOCSIFFLAGS) on any socket of the namespace; setting IFF_UP is what `ip link set lo up` does.
// To leave the namespace a container needs a veth pair: two interfaces joined like a cable, made with one
// rtnetlink request (RTM_NEWLINK, kind "veth"). The peer is made right inside the container's namespace
// (IFLA_NET_NS_PID): made on the host first, its name (eth0) could clash with one of the host's. Each end
// then gets an address and is brought up, over a route socket of the namespace it lives in.
import {
  AF_INET,
  IFF_UP,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  addIPv4Address,
  close,
  createVethPair,
  getInterfaceFlags,
  setInterfaceFlags,
  setLinkUp,
  socket,
  withRouteSocket,
} from '../../linux/index.js';

export function bringUpInterface(name: string): void {
  const sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC);
  try {
    const flags = getInterfaceFlags(sock, name);
    if (!(flags & IFF_UP)) setInterfaceFlags(sock, name, flags | IFF_UP);
  } finally {
    close(sock);
  }
}

/** The pair `hostName` <-> `peerName`, made from the host, with the peer in the network namespace of `pid`. */
export function addVethPair(hostName: string, peerName: string, pid: number): void {
  withRouteSocket((sock) => createVethPair(sock, hostName, peerName, pid));
}

/** Gives interface `name` of the calling thread's network namespace its address, then brings it up. */
export function configureInterface(name: string, address: string, prefixLength: number): void {
  withRouteSocket((sock) => {
    addIPv4Address(sock, name, address, prefixLength);
    setLinkUp(sock, name);
  });
}
