import { describe, expect, it } from 'vitest';
import { BusyWindow } from './utilization.js';

describe('BusyWindow (airmail_pool_utilization)', () => {
  it('is busy time / (threads × window), not a thousandth of it (piscina 5 divides by 1000)', () => {
    let now = 0;
    const w = new BusyWindow(10_000, 10, () => now);
    // Two threads; over 4 s, one runs tasks back to back, the other idles: 50 %.
    for (let t = 0; t < 4000; t += 100) {
      const t0 = w.begin();
      now += 100;
      w.end(t0);
    }
    expect(w.value(2)).toBeCloseTo(0.5, 6);
    expect(w.value(1)).toBeCloseTo(1, 6);
  });

  it('is a recent figure: busy time older than the window no longer counts', () => {
    let now = 0;
    const w = new BusyWindow(10_000, 10, () => now);
    for (let t = 0; t < 10_000; t += 100) {
      const t0 = w.begin();
      now += 100;
      w.end(t0);
    }
    expect(w.value(1)).toBeCloseTo(1, 6);
    now += 20_000; // idle since
    expect(w.value(1)).toBe(0);
  });

  it('counts a task still running for the time it has run', () => {
    let now = 0;
    const w = new BusyWindow(10_000, 10, () => now);
    now = 1000;
    w.begin();
    now = 3000;
    // 2 s of a 3 s life on one of two threads.
    expect(w.value(2)).toBeCloseTo(2000 / (2 * 3000), 6);
  });
});
