import { errnoName, errnoText } from './errno.js';

// Sentences for the failures a learner meets most, keyed by "syscall:ERRNO".
const HINTS: Record<string, string> = {
  'pivot_root:EBUSY': 'the new root must be a mount point; bind-mount it onto itself first',
  'pivot_root:EINVAL': 'the new root and its parent must not be shared mounts, and put_old must be under the new root; make the mounts private first',
  'pivot_root:EPERM': 'pivot_root needs CAP_SYS_ADMIN in the mount namespace',
  'mount:EPERM': 'mounting needs CAP_SYS_ADMIN (run as root); some filesystems (sysfs, mqueue) also need their own network or IPC namespace',
  'mount:ENOENT': 'the mount point or source does not exist',
  'mount:ENODEV': 'the kernel does not know this filesystem type',
  'mount:EBUSY': 'something is already mounted there, or it is in use',
  'mount:EINVAL': 'the source is not a mount point, the flags do not fit together, or the options were rejected by the filesystem',
  'umount2:EINVAL': 'the path is not a mount point',
  'umount2:EBUSY': 'the mount is in use; MNT_DETACH unmounts it lazily',
  'unshare:EINVAL': 'a new user namespace cannot be made by a multithreaded process such as Node',
  'unshare:EPERM': 'new namespaces need CAP_SYS_ADMIN (run as root)',
  'setns:EINVAL': 'the file is not a namespace of that type, or (mount namespace) the thread shares its fs state: unshare(CLONE_FS) first',
  'setns:EPERM': 'joining a namespace needs CAP_SYS_ADMIN',
  'sethostname:EPERM': 'changing the hostname needs CAP_SYS_ADMIN in the UTS namespace',
  'sethostname:EINVAL': 'a hostname holds at most 64 bytes',
  'ioctl(SIOCGIFFLAGS):ENODEV': 'no network interface of that name in this network namespace',
  'ioctl(SIOCSIFFLAGS):ENODEV': 'no network interface of that name in this network namespace',
  'ioctl(SIOCSIFFLAGS):EPERM': 'changing a network interface needs CAP_NET_ADMIN in its network namespace',
  'prctl:EPERM': 'the process lacks what this prctl needs: PR_CAPBSET_DROP needs CAP_SETPCAP, an ambient capability must be permitted and inheritable',
  'execve:ENOENT': 'the program (or its interpreter) does not exist inside the root filesystem',
  'execve:EACCES': 'the file is not executable, or it sits on a noexec mount',
  'setrlimit:EPERM': 'raising a hard limit above the current one needs CAP_SYS_RESOURCE',
  'capset:EPERM': 'a process can only keep capabilities it already has in its permitted and bounding sets',
  'kill:ESRCH': 'the process has already exited',
  'mknod:EPERM': 'creating device nodes needs CAP_MKNOD and the devices cgroup must allow the device',
};

/** A failed system call: which call, on what, the errno name and what it means for a learner. */
export class SyscallError extends Error {
  readonly syscall: string;
  readonly errno: number;
  readonly code: string;
  readonly path?: string;

  constructor(syscall: string, errno: number, path?: string, detail?: string) {
    const code = errnoName(errno);
    const hint = HINTS[`${syscall}:${code}`] ?? errnoText(errno);
    super(`${syscall}${path ? ` ${path}` : ''}: ${code} — ${detail ?? hint}`);
    this.name = 'SyscallError';
    this.syscall = syscall;
    this.errno = errno;
    this.code = code;
    this.path = path;
  }
}
