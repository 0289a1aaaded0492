// What every veth and bridge of `tslab run` shares: the kernel's rule for interface names and the error
// type of network setup. The devices themselves are made over netlink (src/linux/netlink.ts), by
// container-net.ts and bridge.ts; the lab's lesson container makes its pair with the learner's piece
// (runtime/steps/loopback.ts), over the same netlink layer.

export class NetworkSetupError extends Error {}

/** The kernel's limit on an interface name (IFNAMSIZ 16, NUL included). */
const IFNAME_MAX = 15;

/** Throws unless `name` is a name the kernel takes for an interface. */
export function checkInterfaceName(name: string): void {
  if (!name || Buffer.byteLength(name) > IFNAME_MAX) {
    throw new NetworkSetupError(`interface name "${name}" must be 1 to ${IFNAME_MAX} bytes long`);
  }
  if (/[\s/:]/.test(name) || name === '.' || name === '..') {
    throw new NetworkSetupError(`interface name "${name}" must not contain whitespace, '/' or ':'`);
  }
}
