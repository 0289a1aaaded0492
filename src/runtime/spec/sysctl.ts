// linux.sysctl keys: how a key is read (dots or slashes), which kernel namespace isolates it, and the file
// under /proc/sys it names. One home for the spec loader and the stage, so both read a key the same way.

/** Kernel IPC-namespace sysctls (as runc's validator knows them; fs.mqueue.* too). */
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/**
 * A sysctl key with dots as separators, as runc reads it: "net/ipv4/ip_forward" is "net.ipv4.ip_forward",
 * and in a key written with slashes a dot belongs to the name ("net/ipv4/conf/eno2.100/rp_filter" names the
 * interface eno2.100, which sysctl(8) writes as eno2/100).
 */
export function sysctlName(key: string): string {
  const first = key.search(/[./]/);
  if (first < 0 || key[first] === '.') return key;
  return swapSeparators(key);
}

/** The namespace that isolates a sysctl (as runc's validator knows them), or undefined if none does. */
export function sysctlNamespace(name: string): 'ipc' | 'network' | 'uts' | undefined {
  if (IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.')) return 'ipc';
  if (name.startsWith('net.')) return 'network';
  if (name === 'kernel.hostname' || name === 'kernel.domainname') return 'uts';
  return undefined;
}

/**
 * The file under /proc/sys a key names (sysctl(8)'s mapping: "net.ipv4.conf.eno2/100.rp_filter" is
 * net/ipv4/conf/eno2.100/rp_filter), or undefined if it has an empty part, a "." or ".." part, which would
 * name some other file.
 */
export function sysctlPath(key: string): string | undefined {
  const parts = swapSeparators(sysctlName(key)).split('/');
  if (parts.some((part) => part === '' || part === '.' || part === '..')) return undefined;
  return `/proc/sys/${parts.join('/')}`;
}

function swapSeparators(s: string): string {
  return s.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}
