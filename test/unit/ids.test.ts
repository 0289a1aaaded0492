import { describe, expect, it } from 'vitest';
import { ContainerIdError, isValidContainerId, validateContainerId } from '../../src/runtime/state/ids.js';

describe('validateContainerId', () => {
  it('accepts what runc accepts', () => {
    for (const id of ['a', 'web-1', 'my_container', 'v1.2.3', 'a+b', 'a,b', '...', '.hidden', '..x', 'A9', '-', '_']) {
      expect(() => validateContainerId(id), id).not.toThrow();
      expect(isValidContainerId(id)).toBe(true);
    }
  });

  it('refuses what runc refuses', () => {
    for (const id of ['.', '..', 'a/b', '/a', 'a b', 'a:b', 'é', 'a*', 'tab\t', 'semi;', 'a\0', 'a\n']) {
      expect(() => validateContainerId(id), JSON.stringify(id)).toThrow(ContainerIdError);
      expect(isValidContainerId(id)).toBe(false);
    }
  });

  it('explains why', () => {
    expect(() => validateContainerId('')).toThrow(/^container id cannot be empty$/);
    expect(() => validateContainerId('a/b')).toThrow(/^invalid container ID format: .*slash/);
    expect(() => validateContainerId('a b')).toThrow(/a space/);
    expect(() => validateContainerId('..')).toThrow(/special meaning/);
    try {
      validateContainerId('x:y');
      expect.unreachable();
    } catch (e) {
      expect((e as ContainerIdError).id).toBe('x:y');
      expect((e as Error).message).toContain(`the character ":"`);
    }
  });
});
