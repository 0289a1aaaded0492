// Image references as `tslab pull` takes them: REGISTRY/REPOSITORY[:TAG][@DIGEST], e.g.
// `127.0.0.1:5000/busybox:1.36`, `registry.example.org/team/app@sha256:…`.
//
// There is no default registry: tslab works offline, against registries the user names. A reference
// whose first component is not a host (no `.`, no `:` and not `localhost`) is refused with a message
// saying so, where Docker would quietly prepend docker.io/library/.
//
// The grammar is the distribution project's (reference/regexp.go), restricted to what a pull needs.
import { isDigest, otherAlgorithm } from './digest.js';

export class ReferenceError extends Error {}

export interface ImageReference {
  /** host[:port] as written (`127.0.0.1:5000`, `[::1]:5000`, `registry.example.org`). */
  registry: string;
  /** The repository path below the registry, e.g. `busybox` or `team/app`. */
  repository: string;
  /** The tag; `latest` when the reference names neither a tag nor a digest. */
  tag?: string;
  /** `sha256:<64 hex>`; when present the pull is by digest (a tag beside it is only a label). */
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST_NAME = /^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9]+)?\]$/;
const MAX_NAME = 255;

const DEFAULT_TAG = 'latest';

/** True when the first path component of a reference names a registry host, by Docker's rule. */
function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || component.startsWith('[');
}

function parseHost(host: string, whole: string): string {
  let name = host;
  let port: string | undefined;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) throw new ReferenceError(`"${whole}": unbalanced [ in the registry address "${host}"`);
    name = host.slice(0, end + 1);
    const rest = host.slice(end + 1);
    if (rest) {
      if (!rest.startsWith(':')) throw new ReferenceError(`"${whole}": bad registry address "${host}"`);
      port = rest.slice(1);
    }
    if (!IPV6.test(name)) throw new ReferenceError(`"${whole}": bad IPv6 registry address "${host}"`);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      name = host.slice(0, colon);
      port = host.slice(colon + 1);
    }
    if (!HOST_NAME.test(name)) throw new ReferenceError(`"${whole}": bad registry host "${name}"`);
  }
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    throw new ReferenceError(`"${whole}": bad registry port "${port}" (a number from 1 to 65535)`);
  }
  return host;
}

/**
 * Parses REGISTRY/REPOSITORY[:TAG][@DIGEST]. Throws a ReferenceError that names the offending part.
 * Without a tag or digest the tag is `latest`.
 */
export function parseReference(input: string): ImageReference {
  const ref = input.trim();
  if (!ref) throw new ReferenceError('an image reference is empty: name one, e.g. 127.0.0.1:5000/busybox:latest');
  if (/\s/.test(ref)) throw new ReferenceError(`"${input}": an image reference has no spaces`);

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) {
      const algorithm = otherAlgorithm(digest);
      if (algorithm !== undefined) throw new ReferenceError(`"${input}": only sha256 digests are supported, not "${algorithm}"`);
      throw new ReferenceError(`"${input}": "${digest}" is not a digest (sha256: and 64 lowercase hex digits)`);
    }
  }

  const slash = rest.indexOf('/');
  const first = slash < 0 ? rest : rest.slice(0, slash);
  if (slash < 0 || !looksLikeHost(first)) {
    throw new ReferenceError(
      `"${input}" names no registry: tslab has no default registry, name one, e.g. 127.0.0.1:5000/${
        slash < 0 ? rest.replace(/:.*$/, '') || 'busybox' : rest.replace(/:[^/]*$/, '')
      }`,
    );
  }
  const registry = parseHost(first, input);
  let path = rest.slice(slash + 1);

  let tag: string | undefined;
  const lastSlash = path.lastIndexOf('/');
  const colon = path.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) {
      throw new ReferenceError(`"${input}": "${tag}" is not a tag (letters, digits, _ . -; at most 128; not starting with . or -)`);
    }
  }

  if (!path) throw new ReferenceError(`"${input}": the repository name is missing after "${registry}/"`);
  for (const component of path.split('/')) {
    if (!COMPONENT.test(component)) {
      throw new ReferenceError(
        `"${input}": "${component || '(empty)'}" is not a repository name component (lowercase letters and digits, separated by . _ __ or -)`,
      );
    }
  }
  if (registry.length + 1 + path.length > MAX_NAME) {
    throw new ReferenceError(`"${input}": the name is longer than ${MAX_NAME} characters`);
  }

  if (!tag && !digest) tag = DEFAULT_TAG;
  const out: ImageReference = { registry, repository: path };
  if (tag) out.tag = tag;
  if (digest) out.digest = digest;
  return out;
}

/** The reference back as a string: registry/repository[:tag][@digest]. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The registry's host name without port or IPv6 brackets. */
export function registryHostname(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const colon = registry.lastIndexOf(':');
  return colon >= 0 ? registry.slice(0, colon) : registry;
}

/**
 * True for registries on this machine (localhost, 127.0.0.0/8, ::1): plain HTTP is allowed there
 * without asking, as Docker allows it for 127.0.0.0/8.
 */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registryHostname(registry).toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (/^127(?:\.\d{1,3}){3}$/.test(host)) return true;
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}
