// within(): a bounded wait whose timer never outlives it (a pending timer keeps Node from exiting).
import { describe, expect, test } from 'vitest';
import { within } from '../../src/linux/within.js';

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('within', () => {
  test('the value when the promise settles first, and no timer left running', async () => {
    const before = timers();
    expect(await within(Promise.resolve(7), 60_000)).toBe(7);
    expect(timers()).toBe(before);
  });

  test('undefined once the time has passed', async () => {
    expect(await within(new Promise(() => {}), 20)).toBeUndefined();
  });

  test('a rejection passes through, and its timer is cleared too', async () => {
    const before = timers();
    await expect(within(Promise.reject(new Error('no')), 60_000)).rejects.toThrow('no');
    expect(timers()).toBe(before);
  });
});
