// Lesson 6: a new network namespace holds one interface, the loopback "lo", and it starts down: even
// 127.0.0.1 is unreachable. Interface flags are read and written with ioctls (SIOCGIFFLAGS,
// SIOCSIFFLAGS) on any socket of the namespace; setting IFF_UP is what `ip link set lo up` does.
import { AF_INET, IFF_UP, SOCK_CLOEXEC, SOCK_DGRAM, close, getInterfaceFlags, setInterfaceFlags, socket } from '../../linux/index.js';

export function bringUpInterface(name: string): void {
  const sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC);
  try {
    const flags = getInterfaceFlags(sock, name);
    if (!(flags & IFF_UP)) setInterfaceFlags(sock, name, flags | IFF_UP);
  } finally {
    close(sock);
  }
}
