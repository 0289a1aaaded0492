// rtnetlink (netlink(7), rtnetlink(7)): the messages `ip link`, `ip addr` and `ip route` send to the kernel,
// spoken directly over a NETLINK_ROUTE socket instead of spawning `ip`.
// A request is one buffer: nlmsghdr {u32 len; u16 type; u16 flags; u32 seq; u32 pid} (16 bytes), a fixed
// header for its family (ifinfomsg 16, ifaddrmsg 8, rtmsg 12 bytes), then attributes: rtattr {u16 len;
// u16 type} and a payload, each padded to 4 bytes; a nested attribute's payload is more attributes.
// The kernel answers an NLM_F_ACK request with NLMSG_ERROR (error 0: done, else -errno) and a dump with
// messages ending in NLMSG_DONE. A socket acts on the network namespace it was created in, for good.
import { errnoName, errnoText } from './errno.js';
import { SyscallError } from './error.js';
import { close } from './fs.js';
import { check, errno, fn } from './libc.js';
import { withNamespaceOf } from './join-namespace.js';
import { IFF_UP, IFNAMSIZ } from './netdevice.js';
import { AF_INET, SOCK_CLOEXEC, socket } from './socket.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const MSG_PEEK = 0x2;
/** With recv on a netlink socket: return the datagram's whole length, even if the buffer is smaller. */
const MSG_TRUNC = 0x20;

const NLMSG_HDRLEN = 16;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP_INTR = 0x10;
const NLM_F_DUMP = 0x300;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
/** In an NLMSG_ERROR: only the request's header was echoed / extended-ack attributes follow. */
const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const RTM_GETROUTE = 26;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_PID = 19;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_BR_FORWARD_DELAY = 1;
const IFLA_BR_STP_STATE = 5;
const VETH_INFO_PEER = 1;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;

const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_TABLE = 15;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_HOST = 254;
const RTN_UNICAST = 1;
/** rtm_type values, by number: the words `ip route` prints. */
const ROUTE_TYPES = ['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve'];

const EINTR = 4;
const ENODEV = 19;
const EINVAL = 22;
/** A dump the kernel marks inconsistent (the table changed meanwhile) is read again, at most this often. */
const DUMP_ATTEMPTS = 5;

// Sentences for the refusals a learner meets most, keyed by "message type:ERRNO".
const HINTS: Record<string, string> = {
  'RTM_NEWLINK:EEXIST': 'an interface of that name exists already (for a veth pair: either name, the peer\'s in the namespace it goes to)',
  'RTM_NEWLINK:ENODEV': 'no interface of that name (or no master of that index) in this network namespace',
  'RTM_NEWLINK:EOPNOTSUPP': 'this kernel cannot make that kind of interface (is its module, bridge or veth, available?)',
  'RTM_DELLINK:ENODEV': 'no interface of that name in this network namespace',
  'RTM_GETLINK:ENODEV': 'no interface of that name in this network namespace',
  'RTM_NEWADDR:EEXIST': 'the interface has that address already',
  'RTM_NEWADDR:ENODEV': 'no interface of that name in this network namespace',
  'RTM_NEWROUTE:EEXIST': 'a route to that destination exists already in that table',
  'RTM_NEWROUTE:ENODEV': 'no interface of that name in this network namespace',
};
const NEEDS_NET_ADMIN = 'changing the network configuration needs CAP_NET_ADMIN in that network namespace';

/** An interface, as `ip -d link show` describes it. */
export interface NetlinkLink {
  index: number;
  name: string;
  /** IFLA_INFO_KIND: "bridge", "veth"...; undefined for a plain device (lo, a physical NIC). */
  kind?: string;
  /** ifindex of the bridge (or bond) this interface is a port of. */
  masterIndex?: number;
  /** IFF_* flags. */
  flags: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** The link-layer address as "aa:bb:...", if the device has one. */
  mac?: string;
}

/** An IPv4 address of an interface. */
export interface NetlinkAddress {
  index: number;
  address: string;
  prefixLength: number;
  /** IFA_BROADCAST, only if one was given when the address was added (`ip addr add ... brd +`). */
  broadcast?: string;
}

/** An IPv4 route, as `ip -4 route show table all` lists it. */
export interface NetlinkRoute {
  /** The destination network ("0.0.0.0" with prefixLength 0: the default route). */
  destination: string;
  prefixLength: number;
  /** Routing table number: 254 main, 255 local, 253 default. */
  table: number;
  /** "unicast", "local", "broadcast", "blackhole"... */
  type: string;
  gateway?: string;
  /** The outgoing interface's name (undefined for routes without one, such as blackhole or multipath). */
  device?: string;
}

// ---- building messages ----

/** One attribute: its type and either a payload or the attributes nested in it. */
type Attr = [type: number, value: Buffer | Attr[]];

const align4 = (n: number): number => (n + 3) & ~3;

function encodeAttrs(attrs: Attr[]): Buffer {
  return Buffer.concat(
    attrs.map(([type, value]) => {
      const payload = Array.isArray(value) ? encodeAttrs(value) : value;
      const out = Buffer.alloc(align4(4 + payload.length));
      out.writeUInt16LE(4 + payload.length, 0);
      out.writeUInt16LE(type, 2);
      payload.copy(out, 4);
      return out;
    }),
  );
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function cString(s: string): Buffer {
  return Buffer.from(`${s}\0`);
}

/** An interface name as the kernel takes it (1 to 15 bytes, NUL-terminated). */
function ifname(name: string, op: string): Buffer {
  const bytes = Buffer.from(name);
  if (bytes.length === 0 || bytes.length >= IFNAMSIZ || bytes.includes(0)) {
    throw new SyscallError(op, EINVAL, name, `an interface name holds 1 to ${IFNAMSIZ - 1} bytes and no NUL`);
  }
  return cString(name);
}

function ipv4Bytes(text: string, op: string): Buffer {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new SyscallError(op, EINVAL, text, 'not an IPv4 address such as 10.0.0.1');
  }
  return Buffer.from(parts.map(Number));
}

function macBytes(text: string, op: string): Buffer {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text)) throw new SyscallError(op, EINVAL, text, 'not a MAC address such as 02:42:ac:11:00:02');
  return Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
}

/** struct ifinfomsg { u8 family, pad; u16 type; i32 index; u32 flags, change } */
function ifinfomsg(flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

/** struct ifaddrmsg { u8 family, prefixlen, flags, scope; u32 index } */
function ifaddrmsg(prefixLength = 0, scope = 0, index = 0): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(AF_INET, 0);
  b.writeUInt8(prefixLength, 1);
  b.writeUInt8(scope, 3);
  b.writeUInt32LE(index, 4);
  return b;
}

/** struct rtmsg { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags } */
function rtmsg(fields: { table?: number; protocol?: number; scope?: number; type?: number } = {}): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(AF_INET, 0);
  b.writeUInt8(fields.table ?? 0, 4);
  b.writeUInt8(fields.protocol ?? 0, 5);
  b.writeUInt8(fields.scope ?? 0, 6);
  b.writeUInt8(fields.type ?? 0, 7);
  return b;
}

// ---- reading messages ----

interface Message {
  type: number;
  flags: number;
  seq: number;
  /** What follows the nlmsghdr. */
  body: Buffer;
}

function splitMessages(buf: Buffer): Message[] {
  const out: Message[] = [];
  for (let off = 0; off + NLMSG_HDRLEN <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    out.push({ type: buf.readUInt16LE(off + 4), flags: buf.readUInt16LE(off + 6), seq: buf.readUInt32LE(off + 8), body: buf.subarray(off + NLMSG_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

/** Attributes by type (flag bits masked off); a repeated type keeps its last payload. */
function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let off = 0; off + 4 <= buf.length; ) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) break;
    out.set(buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

const readCString = (b: Buffer): string => b.toString('utf8', 0, b.includes(0) ? b.indexOf(0) : b.length);
const formatIPv4 = (b: Buffer): string => [...b.subarray(0, 4)].join('.');
const formatMac = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

// ---- the socket ----

let lastSeq = 0;

function newRouteSocket(): number {
  const sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  try {
    // Errors echo only the request's header, and carry the kernel's own sentence (extended ack).
    for (const opt of [NETLINK_CAP_ACK, NETLINK_EXT_ACK]) {
      check(fn('int setsockopt(int fd, int level, int optname, const void *optval, uint32_t optlen)')(sock, SOL_NETLINK, opt, u32(1), 4), 'setsockopt');
    }
  } catch (err) {
    close(sock);
    throw err;
  }
  return sock;
}

/**
 * A NETLINK_ROUTE socket of this thread's network namespace, or of process `netnsOfPid`'s. For the latter
 * the calling thread joins that namespace just long enough to create the socket (setns is per thread).
 */
export function openRouteSocket(netnsOfPid?: number): number {
  return netnsOfPid === undefined ? newRouteSocket() : withNamespaceOf(netnsOfPid, 'net', newRouteSocket);
}

/** Runs `use` with a route socket (see openRouteSocket) and closes it afterwards. */
export function withRouteSocket<T>(use: (sock: number) => T, netnsOfPid?: number): T {
  const sock = openRouteSocket(netnsOfPid);
  try {
    return use(sock);
  } finally {
    close(sock);
  }
}

function retrying(call: () => number | bigint, syscall: string): number {
  for (;;) {
    const r = call();
    if ((r === -1 || r === -1n) && errno() === EINTR) continue;
    return check(r, syscall);
  }
}

/** One datagram from the kernel: its size is peeked first, so no message is ever cut short. */
function receive(sock: number): Buffer {
  const recv = fn('long recv(int fd, void *buf, size_t len, int flags)');
  const size = retrying(() => recv(sock, null, 0, MSG_PEEK | MSG_TRUNC), 'recv');
  const buf = Buffer.alloc(size);
  return buf.subarray(0, retrying(() => recv(sock, buf, size, 0), 'recv'));
}

/**
 * The errno and the kernel's sentence (extended ack) of an NLMSG_ERROR (error 0: an acknowledgement) or of
 * a failed dump's NLMSG_DONE. An error echoes the request (its header only, with NLM_F_CAPPED) before them.
 */
function parseError(m: Message): { error: number; text?: string } {
  const error = -m.body.readInt32LE(0);
  if (!(m.flags & NLM_F_ACK_TLVS)) return { error };
  const echoed = m.type === NLMSG_DONE ? 0 : m.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : align4(m.body.readUInt32LE(4));
  const text = parseAttrs(m.body.subarray(4 + echoed)).get(NLMSGERR_ATTR_MSG);
  return { error, text: text && readCString(text) };
}

function refusal(op: string, error: number, object: string | undefined, text?: string): SyscallError {
  const code = errnoName(error);
  const hint = HINTS[`${op}:${code}`] ?? (code === 'EPERM' ? NEEDS_NET_ADMIN : errnoText(error));
  return new SyscallError(op, error, object, text ? `${hint} (the kernel says: ${text})` : hint);
}

/**
 * Sends one request and collects the replies to it up to its acknowledgement (NLMSG_ERROR 0) or the end
 * of a dump (NLMSG_DONE); a refusal is thrown as a SyscallError named after `op`, about `object`.
 */
function exchange(sock: number, type: number, flags: number, body: Buffer, op: string, object?: string): Message[] {
  lastSeq = (lastSeq % 0x7fffffff) + 1;
  const seq = lastSeq;
  const msg = Buffer.alloc(NLMSG_HDRLEN + body.length);
  msg.writeUInt32LE(msg.length, 0);
  msg.writeUInt16LE(type, 4);
  msg.writeUInt16LE(NLM_F_REQUEST | flags, 6);
  msg.writeUInt32LE(seq, 8);
  body.copy(msg, NLMSG_HDRLEN);
  retrying(() => fn('long send(int fd, const void *buf, size_t len, int flags)')(sock, msg, msg.length, 0), 'send');

  const replies: Message[] = [];
  for (;;) {
    for (const m of splitMessages(receive(sock))) {
      if (m.seq !== seq) continue; // a late answer to an earlier request
      if (m.type === NLMSG_ERROR || (m.type === NLMSG_DONE && m.body.length >= 4 && m.body.readInt32LE(0) < 0)) {
        const { error, text } = parseError(m);
        if (error === 0) return replies;
        throw refusal(op, error, object, text);
      }
      if (m.type === NLMSG_DONE) return replies;
      replies.push(m);
    }
  }
}

/** A request that changes something: answered by an acknowledgement or a refusal. */
function change(sock: number, type: number, flags: number, header: Buffer, attrs: Attr[], op: string, object: string): void {
  exchange(sock, type, NLM_F_ACK | flags, Buffer.concat([header, encodeAttrs(attrs)]), op, object);
}

/** The bodies of a dump's messages, read again while the kernel marks it interrupted by a concurrent change. */
function dump(sock: number, type: number, header: Buffer, op: string): Buffer[] {
  for (let attempt = 1; ; attempt++) {
    const replies = exchange(sock, type, NLM_F_DUMP, header, op);
    if (!replies.some((m) => m.flags & NLM_F_DUMP_INTR) || attempt === DUMP_ATTEMPTS) return replies.map((m) => m.body);
  }
}

// ---- links ----

function parseLink(body: Buffer): NetlinkLink {
  const flags = body.readUInt32LE(8);
  const attrs = parseAttrs(body.subarray(16));
  const linkinfo = attrs.get(IFLA_LINKINFO);
  const kind = linkinfo && parseAttrs(linkinfo).get(IFLA_INFO_KIND);
  const master = attrs.get(IFLA_MASTER);
  const mac = attrs.get(IFLA_ADDRESS);
  return {
    index: body.readInt32LE(4),
    name: readCString(attrs.get(IFLA_IFNAME) ?? Buffer.alloc(0)),
    kind: kind && readCString(kind),
    masterIndex: master?.readUInt32LE(0),
    flags,
    up: (flags & IFF_UP) !== 0,
    mac: mac && formatMac(mac),
  };
}

/** Every interface of the socket's network namespace (`ip -d link show`). */
export function listLinks(sock: number): NetlinkLink[] {
  return dump(sock, RTM_GETLINK, ifinfomsg(), 'RTM_GETLINK').map(parseLink);
}

/** The interface `name`, or undefined if the namespace has none of that name (ENODEV). */
export function getLink(sock: number, name: string): NetlinkLink | undefined {
  const body = Buffer.concat([ifinfomsg(), encodeAttrs([[IFLA_IFNAME, ifname(name, 'RTM_GETLINK')]])]);
  try {
    const [reply] = exchange(sock, RTM_GETLINK, NLM_F_ACK, body, 'RTM_GETLINK', name);
    return reply && parseLink(reply.body);
  } catch (err) {
    if (err instanceof SyscallError && err.errno === ENODEV) return undefined;
    throw err;
  }
}

/** The ifindex of `name`; ENODEV (as a refusal of `op`) when there is no such interface. */
function indexOf(sock: number, name: string, op: string): number {
  const link = getLink(sock, name);
  if (!link) throw refusal(op, ENODEV, name);
  return link.index;
}

/** A new bridge `name` with the fixed MAC `mac`, STP off and no forwarding delay (`ip link add ... type bridge stp_state 0 forward_delay 0`). */
export function createBridge(sock: number, name: string, mac: string): void {
  const op = 'RTM_NEWLINK';
  change(sock, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifinfomsg(), [
    [IFLA_IFNAME, ifname(name, op)],
    [IFLA_ADDRESS, macBytes(mac, op)],
    [IFLA_LINKINFO, [
      [IFLA_INFO_KIND, cString('bridge')],
      [IFLA_INFO_DATA, [[IFLA_BR_STP_STATE, u32(0)], [IFLA_BR_FORWARD_DELAY, u32(0)]]],
    ]],
  ], op, name);
}

/**
 * A veth pair `name` <-> `peerName`; the peer is made directly in the network namespace of `peerNetnsPid`
 * when given (`ip link add name H type veth peer name P netns PID`). Deleting either end deletes both.
 */
export function createVethPair(sock: number, name: string, peerName: string, peerNetnsPid?: number): void {
  const op = 'RTM_NEWLINK';
  const peerAttrs: Attr[] = [[IFLA_IFNAME, ifname(peerName, op)]];
  if (peerNetnsPid !== undefined) peerAttrs.push([IFLA_NET_NS_PID, u32(peerNetnsPid)]);
  // VETH_INFO_PEER holds a whole ifinfomsg with attributes of its own: the peer's description.
  const peer = Buffer.concat([ifinfomsg(), encodeAttrs(peerAttrs)]);
  change(sock, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifinfomsg(), [
    [IFLA_IFNAME, ifname(name, op)],
    [IFLA_LINKINFO, [[IFLA_INFO_KIND, cString('veth')], [IFLA_INFO_DATA, [[VETH_INFO_PEER, peer]]]]],
  ], op, `${name} peer ${peerName}`);
}

/** Makes `name` a port of the bridge `masterName` (`ip link set dev NAME master MASTER`). */
export function setLinkMaster(sock: number, name: string, masterName: string): void {
  const op = 'RTM_NEWLINK';
  const master = indexOf(sock, masterName, op);
  change(sock, RTM_NEWLINK, 0, ifinfomsg(), [[IFLA_IFNAME, ifname(name, op)], [IFLA_MASTER, u32(master)]], op, `${name} master ${masterName}`);
}

/** Brings `name` up (`ip link set dev NAME up`). */
export function setLinkUp(sock: number, name: string): void {
  const op = 'RTM_NEWLINK';
  change(sock, RTM_NEWLINK, 0, ifinfomsg(IFF_UP, IFF_UP), [[IFLA_IFNAME, ifname(name, op)]], op, name);
}

/** Deletes the interface `name` (a veth takes its peer with it); ENODEV if there is none. */
export function removeLink(sock: number, name: string): void {
  const op = 'RTM_DELLINK';
  change(sock, RTM_DELLINK, 0, ifinfomsg(), [[IFLA_IFNAME, ifname(name, op)]], op, name);
}

// ---- addresses ----

/**
 * Adds `address`/`prefixLength` to `name` as `ip addr add` does by default: IFA_LOCAL and IFA_ADDRESS
 * both the address, no broadcast, scope host for 127.0.0.0/8 and global otherwise.
 */
export function addIPv4Address(sock: number, name: string, address: string, prefixLength: number): void {
  const op = 'RTM_NEWADDR';
  const object = `${address}/${prefixLength} dev ${name}`;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) throw new SyscallError(op, EINVAL, object, 'an IPv4 prefix length is 0 to 32');
  const local = ipv4Bytes(address, op);
  const scope = local[0] === 127 ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
  const header = ifaddrmsg(prefixLength, scope, indexOf(sock, name, op));
  change(sock, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, header, [[IFA_LOCAL, local], [IFA_ADDRESS, local]], op, object);
}

/** The IPv4 addresses of interface `name` (`ip -4 addr show dev NAME`). */
export function listIPv4Addresses(sock: number, name: string): NetlinkAddress[] {
  const index = indexOf(sock, name, 'RTM_GETADDR');
  const out: NetlinkAddress[] = [];
  for (const body of dump(sock, RTM_GETADDR, ifaddrmsg(), 'RTM_GETADDR')) {
    if (body.readUInt8(0) !== AF_INET || body.readUInt32LE(4) !== index) continue;
    const attrs = parseAttrs(body.subarray(8));
    const local = attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS);
    if (!local) continue;
    const broadcast = attrs.get(IFA_BROADCAST);
    out.push({ index, address: formatIPv4(local), prefixLength: body.readUInt8(1), broadcast: broadcast && formatIPv4(broadcast) });
  }
  return out;
}

// ---- routes ----

/** Adds the IPv4 default route via `gateway` on `device` to the main table (`ip route add default via GW dev DEV`). */
export function addDefaultRoute(sock: number, gateway: string, device: string): void {
  const op = 'RTM_NEWROUTE';
  const object = `default via ${gateway} dev ${device}`;
  const via = ipv4Bytes(gateway, op);
  const header = rtmsg({ table: RT_TABLE_MAIN, protocol: RTPROT_BOOT, scope: RT_SCOPE_UNIVERSE, type: RTN_UNICAST });
  change(sock, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, header, [[RTA_GATEWAY, via], [RTA_OIF, u32(indexOf(sock, device, op))]], op, object);
}

/** A route, or undefined when its outgoing interface is gone (deleted after the route dump: the route went with it). */
function parseRoute(body: Buffer, names: Map<number, string>): NetlinkRoute | undefined {
  const attrs = parseAttrs(body.subarray(12));
  const dst = attrs.get(RTA_DST);
  const gateway = attrs.get(RTA_GATEWAY);
  const oif = attrs.get(RTA_OIF);
  const device = oif && names.get(oif.readUInt32LE(0));
  if (oif && device === undefined) return undefined;
  return {
    destination: dst ? formatIPv4(dst) : '0.0.0.0',
    prefixLength: body.readUInt8(1),
    // rtm_table holds only 8 bits: RTA_TABLE carries the whole number.
    table: attrs.get(RTA_TABLE)?.readUInt32LE(0) ?? body.readUInt8(4),
    type: ROUTE_TYPES[body.readUInt8(7)] ?? String(body.readUInt8(7)),
    gateway: gateway && formatIPv4(gateway),
    device,
  };
}

/** Every IPv4 route of every table (`ip -4 route show table all`). */
export function listIPv4Routes(sock: number): NetlinkRoute[] {
  // Routes first, then the links that name their devices: a link made in between (another `tslab run`
  // creating the bridge) cannot leave a route without its device's name.
  const routes = dump(sock, RTM_GETROUTE, rtmsg(), 'RTM_GETROUTE').filter((body) => body.readUInt8(0) === AF_INET);
  const names = new Map(listLinks(sock).map((l) => [l.index, l.name]));
  return routes.flatMap((body) => parseRoute(body, names) ?? []);
}
