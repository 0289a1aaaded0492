// Which directory is "the container's cgroup" in each hierarchy?
//
// OCI's linux.cgroupsPath, read the way runc's cgroupfs driver reads it:
//   "/a/b"            absolute: /a/b below the root of every hierarchy (podman: /libpod_parent/libpod-<id>,
//                     containerd: /<namespace>/<id>)
//   "a/b"             relative: below the caller's own cgroup in each hierarchy (from /proc/self/cgroup)
//   unset / ""        the same as the relative path "<container id>"
//   "slice:prefix:n"  the systemd driver's syntax: not supported here
// On a pure cgroup v2 machine runc puts relative paths below the *parent* of the caller's cgroup: the caller's own
// cgroup holds processes, so by the "no internal processes" rule it could not enable controllers for a child.

import { posix } from 'node:path';
import { CgroupError } from './cgroup-error.js';
import { ownCgroupIn, type CgroupLayout, type CgroupMount, type ProcCgroupEntry } from './detect.js';

/** A hierarchy together with the container's directory in it. */
export interface HierarchyPath {
  key: string;
  kind: 'v1' | 'v2';
  controllers: string[];
  mountPoint: string;
  /** Absolute directory of the container's cgroup. */
  dir: string;
}

/**
 * Clean a cgroup path lexically: drop '.' and empty segments, resolve '..'. A '..' that would climb above the
 * start is an error (a cgroupsPath must not escape its base). Returns the segments.
 */
export function cleanCgroupSegments(path: string, what = 'cgroupsPath'): string[] {
  if (path.includes('\0')) throw new CgroupError(`${what} "${path}" contains a NUL byte`);
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) {
        throw new CgroupError(`${what} "${path}" uses ".." to climb out of its base cgroup; this is not allowed`);
      }
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return out;
}

/** True for the systemd cgroup driver's "slice:prefix:name" syntax. */
export function isSystemdCgroupsPath(cgroupsPath: string): boolean {
  return !cgroupsPath.startsWith('/') && cgroupsPath.split(':').length === 3;
}

/** Strip the mount's root from a /proc/self/cgroup path, giving the path below the mount point. */
function belowMountRoot(own: string, h: CgroupMount): string {
  if (h.root === '/' || h.root === '') return own;
  if (own === h.root) return '/';
  if (own.startsWith(h.root + '/')) return own.slice(h.root.length);
  throw new CgroupError(
    `this process's cgroup "${own}" in hierarchy ${h.key} is outside the part of it mounted at ${h.mountPoint} ` +
      `("${h.root}"), so no relative cgroupsPath can be resolved there; use an absolute cgroupsPath`,
  );
}

export interface ResolveOptions {
  layout: CgroupLayout;
  id: string;
  cgroupsPath?: string | undefined;
  /** Parsed /proc/self/cgroup of the caller. */
  own: ProcCgroupEntry[];
}

/** The hierarchies this layer manages in a layout: the v1 ones (v1, hybrid) and the cgroup2 one (hybrid, v2). */
export function managedHierarchies(layout: CgroupLayout): CgroupMount[] {
  const list = layout.mode === 'v2' ? [] : [...layout.v1];
  if (layout.unified) list.push(layout.unified);
  return list;
}

/** Compute the container's cgroup directory in every managed hierarchy. Pure: no filesystem access. */
export function resolveCgroupPaths(opts: ResolveOptions): HierarchyPath[] {
  const { layout, id, cgroupsPath } = opts;
  const path = cgroupsPath ?? '';
  if (isSystemdCgroupsPath(path)) {
    throw new CgroupError(
      `cgroupsPath "${path}" has the form slice:prefix:name of the systemd driver: systemd cgroup driver not ` +
        'supported by tslab-runtime; use a cgroupfs path such as "/mygroup/<id>" (podman: --cgroup-manager=cgroupfs)',
    );
  }
  const absolute = path.startsWith('/');
  let inner: string[];
  if (path === '') {
    if (id === '' || id === '.' || id === '..' || id.includes('/')) {
      throw new CgroupError(`container id "${id}" cannot be used as a cgroup directory name`);
    }
    inner = [id];
  } else {
    inner = cleanCgroupSegments(path);
  }
  if (inner.length === 0) {
    throw new CgroupError(
      absolute
        ? `cgroupsPath "${path}" is the root cgroup; a container needs a cgroup of its own`
        : `cgroupsPath "${path}" is the caller's own cgroup; a container needs a cgroup of its own`,
    );
  }

  return managedHierarchies(layout).map((h) => {
    let base: string;
    if (absolute) {
      base = '/';
    } else {
      const own = ownCgroupIn(opts.own, h);
      if (own === undefined) {
        throw new CgroupError(`/proc/self/cgroup has no line for the ${h.key} hierarchy mounted at ${h.mountPoint}`);
      }
      base = belowMountRoot(own, h);
      // runc (fs2): on pure v2, nest under the parent of our own cgroup, which has no processes of its own.
      if (h.kind === 'v2' && layout.mode === 'v2') base = posix.dirname(base);
    }
    const dir = posix.join(h.mountPoint, base, ...inner);
    return { key: h.key, kind: h.kind, controllers: [...h.controllers], mountPoint: h.mountPoint, dir };
  });
}
