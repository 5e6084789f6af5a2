import { describe, expect, it } from 'vitest';
import { HISTOGRAM_MAX_VALUE, Histogram } from './histogram.js';
// A deterministic PRNG, so a failure reproduces.
import { mulberry32 } from '../scripts/make-demo.js';

function nearestRank(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

const PERCENTILES = [0, 1, 10, 50, 90, 99, 99.9, 99.99, 100];

describe('Histogram', () => {
  it('matches a sorted-array reference within 1% on a heavy-tailed distribution', () => {
    const rand = mulberry32(42);
    const h = new Histogram();
    const values: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      // log-normal-ish latencies in µs: median ~1 ms, long tail to seconds
      const v = Math.round(Math.exp(7 + 1.5 * Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand())));
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    for (const p of PERCENTILES) {
      const ref = nearestRank(values, p);
      const got = h.percentile(p);
      expect(Math.abs(got - ref), `p${p}: got ${got}, ref ${ref}`).toBeLessThanOrEqual(Math.max(1, ref * 0.01));
    }
    expect(h.count).toBe(values.length);
    expect(h.min).toBe(values[0]);
    expect(h.max).toBe(values[values.length - 1]);
  });

  it('is exact for small values and for uniform data across bucket boundaries', () => {
    const h = new Histogram();
    const values: number[] = [];
    for (let v = 0; v < 300; v++) {
      h.record(v);
      values.push(v);
    }
    for (const p of [1, 25, 50, 75]) expect(h.percentile(p)).toBe(nearestRank(values, p));
    const rand = mulberry32(7);
    const u = new Histogram();
    const uv: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const v = Math.floor(rand() * 10_000_000);
      u.record(v);
      uv.push(v);
    }
    uv.sort((a, b) => a - b);
    for (const p of PERCENTILES) {
      const ref = nearestRank(uv, p);
      expect(Math.abs(u.percentile(p) - ref)).toBeLessThanOrEqual(Math.max(1, ref * 0.01));
    }
  });

  it('merges, resets, clamps and handles the empty case', () => {
    const a = new Histogram();
    const b = new Histogram();
    expect(a.percentile(99)).toBe(0);
    expect(a.mean).toBe(0);
    a.record(10, 3);
    b.record(1000);
    b.record(-5);
    b.record(HISTOGRAM_MAX_VALUE * 4);
    a.merge(b);
    expect(a.count).toBe(6);
    expect(a.min).toBe(0);
    expect(a.max).toBe(HISTOGRAM_MAX_VALUE);
    expect(a.percentile(50)).toBe(10);
    a.reset();
    expect(a.count).toBe(0);
    expect(a.max).toBe(0);
  });
});
