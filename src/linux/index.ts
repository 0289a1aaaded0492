// The whole syscall layer in one import: what the runtime's kernel steps (src/runtime/steps/) use, and what
// a learner's sandbox gets through sandbox/syscalls.ts. The rest of the runtime imports the modules directly.
// No two modules export the same name; a later clash must be resolved here with an explicit export.
export * from './bpf.js';
export * from './capabilities.js';
export * from './errno.js';
export * from './error.js';
export * from './fs.js';
export * from './inotify.js';
export * from './libc.js';
export * from './mount.js';
export * from './mountinfo.js';
export * from './namespaces.js';
export * from './netdevice.js';
export * from './netlink.js';
export * from './process.js';
export * from './pty.js';
export * from './seccomp.js';
export * from './socket.js';
export * from './xattr.js';
