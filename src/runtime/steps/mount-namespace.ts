// Lesson 4: unshare(CLONE_NEWNS) gives the caller a mount namespace of its own, a copy of the host's mounts,
// still joined to them by shared propagation: a mount made inside would show up on the host. Making every
// mount private cuts that link; then the container can mount its own /proc, which shows the processes of its
// PID namespace.
import { CLONE_NEWNS, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_REC, mount, unshare } from '../../linux/index.js';

export function newMountNamespace(): void {
  unshare(CLONE_NEWNS);
}

export function makeMountsPrivate(): void {
  mount(null, '/', null, MS_REC | MS_PRIVATE);
}

export function mountProc(target: string): void {
  mount('proc', target, 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC);
}
