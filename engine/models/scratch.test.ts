import { describe, expect, it } from 'vitest';
import { FloatScratch } from './scratch.js';

describe('FloatScratch', () => {
  it('gives each call in flight its own buffer, and reuses one given back', () => {
    const s = new FloatScratch();
    const a = s.take(52_800);
    const b = s.take(52_800);
    expect(a.length).toBe(52_800);
    expect(a.buffer).not.toBe(b.buffer);
    s.give(a);
    const c = s.take(52_000);
    expect(c.buffer).toBe(a.buffer);
    expect(c.length).toBe(52_000);
    // Rounded up: a request with a few more rows reuses it too.
    s.give(c);
    expect(s.take(60_000).buffer).toBe(a.buffer);
  });

  it('keeps neither a buffer past its size limit nor more than four', () => {
    const s = new FloatScratch();
    const huge = s.take(5 * 2 ** 20);
    s.give(huge);
    expect(s.take(5 * 2 ** 20).buffer).not.toBe(huge.buffer);
    const five = [1, 2, 3, 4, 5].map(() => s.take(100));
    for (const x of five) s.give(x);
    const again = [1, 2, 3, 4, 5].map(() => s.take(100).buffer);
    expect(again.filter((b) => five.some((x) => x.buffer === b))).toHaveLength(4);
  });
});
