// linux.namespaces as runc reads it: a type not listed is the caller's, the same type twice and a type
// that does not exist are refused before anything starts.
import { describe, expect, test } from 'vitest';
import { setupSuite, type SpecJson } from '../helpers/bundle.js';
import { nsInodes, type NamespaceName } from '../helpers/kernel.js';
import { expectFail, expectOk } from '../helpers/runtime.js';

const s = setupSuite('namespaces');

describe('linux.namespaces', () => {
  test('with only a mount namespace listed, every other namespace is the caller\'s', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.linux.namespaces = [{ type: 'mount' }];
      delete spec.hostname; // a hostname needs a UTS namespace of its own
    });
    const id = s.id();
    expectOk(await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]));
    const { pid } = await s.rt.state(id);
    const host = nsInodes('self');
    const inside = nsInodes(pid);
    for (const ns of ['pid', 'net', 'ipc', 'uts', 'cgroup', 'user'] as NamespaceName[]) expect(inside[ns], ns).toBe(host[ns]);
    expect(inside.mnt).not.toBe(host.mnt);
  });

  const refused: Array<[string, (spec: SpecJson) => void]> = [
    ['the same type twice', (spec) => spec.linux.namespaces.push({ type: 'network' })],
    ['the same type twice, once by path', (spec) => spec.linux.namespaces.push({ type: 'ipc', path: '/proc/self/ns/ipc' })],
    ['a type that does not exist', (spec) => spec.linux.namespaces.push({ type: 'bogus' })],
    ['the kernel\'s short name of a type ("net" for network)', (spec) => spec.linux.namespaces.push({ type: 'net' })],
    ['an empty type', (spec) => spec.linux.namespaces.push({ type: '' })],
  ];
  test.each(refused)('refused: %s', async (_name, mutate) => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['true'];
      mutate(spec);
    });
    const id = s.id();
    const r = await s.create(b, id);
    expectFail(r);
    expect(r.stderr).toMatch(/ns|namespace/i);
    expect(await s.rt.stateOrNull(id)).toBeNull();
  });
});
