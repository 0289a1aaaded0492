import { describe, expect, it } from 'vitest';
import {
  ReferenceError,
  formatReference,
  isLoopbackRegistry,
  parseReference,
  registryHostname,
} from '../../src/image/reference.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('parseReference', () => {
  it('splits registry, repository, tag and digest', () => {
    expect(parseReference('127.0.0.1:5000/busybox:1')).toEqual({ registry: '127.0.0.1:5000', repository: 'busybox', tag: '1' });
    expect(parseReference('localhost/busybox')).toEqual({ registry: 'localhost', repository: 'busybox', tag: 'latest' });
    expect(parseReference('localhost:5000/team/app/web:v1.2-rc_3')).toEqual({
      registry: 'localhost:5000',
      repository: 'team/app/web',
      tag: 'v1.2-rc_3',
    });
    expect(parseReference('registry.example.org/app')).toEqual({ registry: 'registry.example.org', repository: 'app', tag: 'latest' });
    expect(parseReference(`127.0.0.1:5000/busybox@${DIGEST}`)).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'busybox',
      digest: DIGEST,
    });
    expect(parseReference(`127.0.0.1:5000/busybox:1@${DIGEST}`)).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'busybox',
      tag: '1',
      digest: DIGEST,
    });
    expect(parseReference('[::1]:5000/a.b/c__d/e-f--g')).toEqual({ registry: '[::1]:5000', repository: 'a.b/c__d/e-f--g', tag: 'latest' });
  });

  it('refuses a reference without a registry, and says how to name one', () => {
    expect(() => parseReference('busybox')).toThrow(ReferenceError);
    expect(() => parseReference('busybox')).toThrow(/names no registry.*e\.g\. 127\.0\.0\.1:5000\/busybox$/);
    expect(() => parseReference('busybox:1.36')).toThrow(/e\.g\. 127\.0\.0\.1:5000\/busybox$/);
    expect(() => parseReference('library/busybox:1')).toThrow(/e\.g\. 127\.0\.0\.1:5000\/library\/busybox$/);
  });

  it('names what is wrong in a bad reference', () => {
    expect(() => parseReference('')).toThrow(/empty/);
    expect(() => parseReference('localhost:5000/Busybox')).toThrow(/"Busybox" is not a repository name component/);
    expect(() => parseReference('localhost:5000/a//b')).toThrow(/"\(empty\)" is not a repository name component/);
    expect(() => parseReference('localhost:5000/')).toThrow(/repository name is missing/);
    expect(() => parseReference('localhost:5000/a:-x')).toThrow(/"-x" is not a tag/);
    expect(() => parseReference('localhost:5000/a:')).toThrow(/"" is not a tag/);
    expect(() => parseReference('localhost:5000/a@sha256:abc')).toThrow(/is not a digest/);
    expect(() => parseReference(`localhost:5000/a@sha512:${'a'.repeat(128)}`)).toThrow(/only sha256 digests/);
    expect(() => parseReference('localhost:99999/a')).toThrow(/bad registry port "99999"/);
    expect(() => parseReference('local_host:5000/a')).toThrow(/bad registry host "local_host"/);
    expect(() => parseReference('localhost:5000/a b')).toThrow(/no spaces/);
    expect(() => parseReference(`localhost:5000/${'a'.repeat(300)}`)).toThrow(/longer than 255/);
  });

  it('formats back to the same text', () => {
    for (const text of ['127.0.0.1:5000/busybox:1', `localhost/a/b@${DIGEST}`, `r.example.org:443/x:y@${DIGEST}`]) {
      expect(formatReference(parseReference(text))).toBe(text);
    }
  });
});

describe('registry hosts', () => {
  it('knows the loopback ones, where plain HTTP needs no flag', () => {
    for (const r of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.1.2.3', '[::1]:5000', 'web.localhost:80']) {
      expect(isLoopbackRegistry(r), r).toBe(true);
    }
    for (const r of ['registry.example.org', '10.0.0.1:5000', '[fe80::1]:5000', 'localhost.example.org', '128.0.0.1']) {
      expect(isLoopbackRegistry(r), r).toBe(false);
    }
  });

  it('strips the port and brackets from a host', () => {
    expect(registryHostname('127.0.0.1:5000')).toBe('127.0.0.1');
    expect(registryHostname('[::1]:5000')).toBe('::1');
    expect(registryHostname('[::1]')).toBe('::1');
    expect(registryHostname('example.org')).toBe('example.org');
  });
});
