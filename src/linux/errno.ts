// errno numbers of Linux x86-64 with their names and a plain-language meaning.
const TABLE: Array<[number, string, string]> = [
  [1, 'EPERM', 'operation not permitted'],
  [2, 'ENOENT', 'no such file or directory'],
  [3, 'ESRCH', 'no such process'],
  [4, 'EINTR', 'interrupted system call'],
  [5, 'EIO', 'input/output error'],
  [6, 'ENXIO', 'no such device or address'],
  [7, 'E2BIG', 'argument list too long'],
  [8, 'ENOEXEC', 'exec format error'],
  [9, 'EBADF', 'bad file descriptor'],
  [10, 'ECHILD', 'no child processes'],
  [11, 'EAGAIN', 'resource temporarily unavailable'],
  [12, 'ENOMEM', 'cannot allocate memory'],
  [13, 'EACCES', 'permission denied'],
  [14, 'EFAULT', 'bad address'],
  [15, 'ENOTBLK', 'block device required'],
  [16, 'EBUSY', 'device or resource busy'],
  [17, 'EEXIST', 'file exists'],
  [18, 'EXDEV', 'invalid cross-device link'],
  [19, 'ENODEV', 'no such device'],
  [20, 'ENOTDIR', 'not a directory'],
  [21, 'EISDIR', 'is a directory'],
  [22, 'EINVAL', 'invalid argument'],
  [23, 'ENFILE', 'too many open files in system'],
  [24, 'EMFILE', 'too many open files'],
  [25, 'ENOTTY', 'inappropriate ioctl for device'],
  [26, 'ETXTBSY', 'text file busy'],
  [27, 'EFBIG', 'file too large'],
  [28, 'ENOSPC', 'no space left on device'],
  [29, 'ESPIPE', 'illegal seek'],
  [30, 'EROFS', 'read-only file system'],
  [31, 'EMLINK', 'too many links'],
  [32, 'EPIPE', 'broken pipe'],
  [33, 'EDOM', 'numerical argument out of domain'],
  [34, 'ERANGE', 'numerical result out of range'],
  [35, 'EDEADLK', 'resource deadlock avoided'],
  [36, 'ENAMETOOLONG', 'file name too long'],
  [38, 'ENOSYS', 'function not implemented'],
  [39, 'ENOTEMPTY', 'directory not empty'],
  [40, 'ELOOP', 'too many levels of symbolic links'],
  [61, 'ENODATA', 'no data available'],
  [95, 'EOPNOTSUPP', 'operation not supported'],
  [97, 'EAFNOSUPPORT', 'address family not supported by protocol'],
  [98, 'EADDRINUSE', 'address already in use'],
  [99, 'EADDRNOTAVAIL', 'cannot assign requested address'],
  [101, 'ENETUNREACH', 'network is unreachable'],
  [104, 'ECONNRESET', 'connection reset by peer'],
  [105, 'ENOBUFS', 'no buffer space available'],
  [110, 'ETIMEDOUT', 'connection timed out'],
  [111, 'ECONNREFUSED', 'connection refused'],
  [125, 'ECANCELED', 'operation canceled'],
];

const BY_NUMBER = new Map(TABLE.map(([n, name, text]) => [n, { name, text }]));
const BY_NAME = new Map(TABLE.map(([n, name]) => [name, n]));

export function errnoName(errno: number): string {
  return BY_NUMBER.get(errno)?.name ?? `E${errno}`;
}

export function errnoText(errno: number): string {
  return BY_NUMBER.get(errno)?.text ?? `error number ${errno}`;
}

export function errnoNumber(name: string): number | undefined {
  return BY_NAME.get(name);
}
