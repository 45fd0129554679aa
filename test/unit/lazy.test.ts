// shared/lazy.ts: a module behind `onFirstUse` loads on the first call only, every caller shares that one
// load (concurrent first calls too), and a failed load is tried again on the next call instead of being cached.
import { describe, expect, it } from 'vitest';
import { onFirstUse } from '../../shared/lazy.js';

describe('onFirstUse', () => {
  it('loads nothing until called, then once for every caller', async () => {
    let loads = 0;
    const load = onFirstUse(async () => {
      loads += 1;
      return { value: loads };
    });
    expect(loads).toBe(0);
    const [first, second] = await Promise.all([load(), load()]);
    const third = await load();
    expect(loads).toBe(1);
    expect(first).toBe(second);
    expect(third).toBe(first);
  });

  it('tries again after a failed load', async () => {
    let attempts = 0;
    const load = onFirstUse(async () => {
      attempts += 1;
      if (attempts === 1) throw new Error('disk hiccup');
      return 'loaded';
    });
    await expect(load()).rejects.toThrow('disk hiccup');
    await expect(load()).resolves.toBe('loaded');
    await expect(load()).resolves.toBe('loaded');
    expect(attempts).toBe(2);
  });
});
