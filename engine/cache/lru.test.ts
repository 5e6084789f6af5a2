import { describe, expect, it } from 'vitest';
import { estimateSize, Lru } from './lru.js';

describe('Lru', () => {
  it('evicts the least recently used entry past maxEntries', () => {
    const lru = new Lru<number>({ maxEntries: 2 });
    lru.set('a', 1, 100, 100);
    lru.set('b', 2, 100, 100);
    expect(lru.get('a', 0)?.value).toBe(1); // a is now most recent
    lru.set('c', 3, 100, 100);
    expect(lru.get('b', 0)).toBeUndefined();
    expect(lru.get('a', 0)?.value).toBe(1);
    expect(lru.get('c', 0)?.value).toBe(3);
    expect(lru.stats()).toMatchObject({ entries: 2, evictions: 1 });
  });

  it('evicts by bytes and refuses an entry bigger than maxBytes', () => {
    const lru = new Lru<string>({ maxBytes: 100 });
    lru.set('a', 'x', 10, 10, 40);
    lru.set('b', 'y', 10, 10, 40);
    lru.set('c', 'z', 10, 10, 40);
    expect(lru.peek('a', 0)).toBeUndefined();
    expect(lru.stats().bytes).toBe(80);
    lru.set('huge', 'h', 10, 10, 101);
    expect(lru.peek('huge', 0)).toBeUndefined();
    expect(lru.stats().bytes).toBe(80);
    lru.set('b', 'y2', 10, 10, 10); // replacing frees the old size
    expect(lru.stats().bytes).toBe(50);
  });

  it('keeps an entry until staleUntil and drops it after', () => {
    const lru = new Lru<string>();
    lru.set('k', 'v', 100, 200);
    expect(lru.get('k', 99)).toMatchObject({ value: 'v', freshUntil: 100, staleUntil: 200 });
    expect(lru.get('k', 150)?.value).toBe('v'); // stale but kept: the caller decides
    expect(lru.get('k', 200)).toBeUndefined();
    expect(lru.size).toBe(0);
  });

  it('rejects nonsense bounds', () => {
    expect(() => new Lru({ maxEntries: 0 })).toThrow(RangeError);
    expect(() => new Lru({ maxBytes: 0 })).toThrow(RangeError);
  });

  it('estimates sizes: exact for binary, proportional for arrays', () => {
    expect(estimateSize(new Float32Array(10))).toBe(40);
    const small = estimateSize(Array.from({ length: 10 }, (_, i) => `id-${i}`));
    const big = estimateSize(Array.from({ length: 1000 }, (_, i) => `id-${i}`));
    expect(big).toBeGreaterThan(small * 50);
  });
});
