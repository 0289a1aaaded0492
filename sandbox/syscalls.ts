// The syscall layer, for your steps: one typed function per system call (mount, unshare, prctl...), and
// SyscallError, which names the call, the errno and what it means. Import from here: `from '../syscalls.js'`.
export * from '../src/linux/index.js';
