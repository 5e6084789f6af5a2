import { describe, expect, it } from 'vitest';
import type { Engine } from '../engine.js';
import { AirmailError } from '../errors.js';
import { uiStats } from '../http/ui.js';
import { Observability } from './index.js';
import { EngineMetrics } from './metrics.js';
import { RecentWindow } from './recent.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('RecentWindow (the /ui page\'s last minute)', () => {
  it('counts what fell in the last six 10 s slots, and forgets a slot once it leaves the window', () => {
    const c = clock();
    const w = new RecentWindow({ buckets: BUCKETS, now: c.now });
    const s = w.seriesFor('p');
    for (let i = 0; i < 10; i++) w.add(s, 0.5, true, false, false);
    c.advance(30_000);
    w.add(s, 0.005, true, true, false);
    w.add(s, 0.005, true, false, true);
    let r = w.read(s);
    expect([r.requests, r.errors, r.empty, r.timed]).toEqual([12, 1, 1, 12]);
    expect(r.seconds).toBeCloseTo(5.01);
    c.advance(35_000);
    r = w.read(s);
    // The slow minute is gone: only the two fast requests 35 s ago are left.
    expect([r.requests, r.errors, r.empty]).toEqual([2, 1, 1]);
    expect(r.p95).toBeLessThanOrEqual(0.01);
    c.advance(60_000);
    r = w.read(s);
    expect(r.requests).toBe(0);
    expect(r.p50).toBeNaN();
  });

  it('zeroes a slot reused after a full turn of the ring, and reads a span no longer than the server has run', () => {
    const c = clock(0);
    const w = new RecentWindow({ buckets: BUCKETS, now: c.now });
    const s = w.seriesFor('p');
    w.add(s, 0.5, true, false, false);
    c.advance(5_000);
    expect(w.read(s).span).toBeCloseTo(5);
    c.advance(60_000);
    w.add(s, 0.0005, true, false, false);
    const r = w.read(s);
    expect(r.requests).toBe(1);
    expect(r.p95).toBeLessThanOrEqual(0.001);
    expect(r.span).toBeGreaterThan(50);
    expect(r.span).toBeLessThanOrEqual(60);
  });

  it('keeps refusals (no time) out of the latency and the quantiles', () => {
    const w = new RecentWindow({ buckets: BUCKETS, now: clock().now });
    const s = w.seriesFor('p');
    w.add(s, NaN, false, true, false);
    w.add(s, 2, false, true, false);
    const r = w.read(s);
    expect([r.requests, r.errors, r.timed, r.seconds]).toEqual([2, 2, 1, 2]);
    expect(r.p50).toBeNaN();
  });
});

describe('issue: the /ui live latency and rates were totals since the start', () => {
  it('GET /ui/stats reports the last minute: an hour of slow requests no longer shows once traffic is fast', () => {
    const c = clock();
    const metrics = new EngineMetrics({ now: c.now });
    const obs = new Observability({ metrics });
    const engine = { observe: obs, store: { reloadHistory: () => [] } } as unknown as Engine;
    const run = (ms: number, items: number, steps = true): void => {
      const r = obs.begin({ name: 'p', version: 'v1' }, {})!;
      // The request's own time is measured with performance.now(): shift its start back.
      (r as { t0: number }).t0 = performance.now() - ms;
      const report = steps ? { steps: [{ step: 'S', operator: 'Static', kind: 'source', phase: 'include' as const, rowsIn: 0, rowsOut: items, ms }] } : undefined;
      obs.end(r, { items: new Array<number>(items).fill(1), error: false, reason: items ? null : 'S(...) returned nothing' }, report);
    };
    for (let i = 0; i < 100; i++) run(800, 3);
    c.advance(3_600_000);
    for (let i = 0; i < 9; i++) run(2, 3);
    run(2, 0);
    obs.rejected('p', new AirmailError('INPUT_INVALID', 'bad'));
    type Row = { requests: number; per_second: number; errors: number; empty: number; mean: number; p50: number; p95: number };
    const stats = uiStats(engine) as { window_s: number; pipelines: Record<string, { requests: number; timed: number; recent: Row }>; operators: { step: string; count: number; recent: Row }[] };
    expect(stats.window_s).toBe(60);
    const p = stats.pipelines['p']!;
    // Every answer, the refused one included; timed: the 110 that ran.
    expect(p.requests).toBe(111);
    expect(p.timed).toBe(110);
    expect(p.recent.requests).toBe(11);
    expect(p.recent.errors).toBe(1);
    expect(p.recent.empty).toBe(1);
    expect(p.recent.p95 * 1000).toBeLessThan(10);
    expect(p.recent.mean * 1000).toBeLessThan(10);
    expect(p.recent.per_second).toBeGreaterThan(0);
    const op = stats.operators.find((o) => o.step === 'S')!;
    expect(op.count).toBe(110);
    expect(op.recent.requests).toBe(10);
    expect(op.recent.p95 * 1000).toBeLessThan(10);
  });
});

describe('issue: one 57 ms request showed p50 75 ms and p95 97.5 ms on the /ui page', () => {
  // The server's latency buckets around 57 ms: 50 ms and 100 ms.
  const LAT = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

  it('with one request, p50 = p95 = its time', () => {
    const w = new RecentWindow({ buckets: LAT, now: clock().now });
    const s = w.seriesFor('p');
    w.add(s, 0.057, true, false, false);
    const r = w.read(s);
    expect(r.p50).toBeCloseTo(0.057, 9);
    expect(r.p95).toBeCloseTo(0.057, 9);
  });

  it('the estimates stay within the least and greatest time of the window, across slots, and forget an old slot\'s', () => {
    const c = clock();
    const w = new RecentWindow({ buckets: LAT, now: c.now });
    const s = w.seriesFor('p');
    w.add(s, 0.2, true, false, false); // leaves the window below
    c.advance(50_000);
    w.add(s, 0.052, true, false, false);
    c.advance(10_000);
    w.add(s, 0.057, true, false, false);
    w.add(s, 0.061, true, false, false);
    w.add(s, 0.07, false, false, false); // timed, not in the quantiles (an error): no bound either
    let r = w.read(s);
    expect(r.p50).toBeGreaterThanOrEqual(0.052);
    expect(r.p95).toBeLessThanOrEqual(0.061);
    expect(r.p50).toBeLessThanOrEqual(r.p95);
    // Past the last bucket the estimate was the last bound (1 s), below the one time seen.
    c.advance(60_000);
    w.add(s, 3, true, false, false);
    r = w.read(s);
    expect([r.p50, r.p95]).toEqual([3, 3]);
  });

  it('a slot reused after a full turn starts its bounds afresh', () => {
    const c = clock(0);
    const w = new RecentWindow({ buckets: LAT, now: c.now });
    const s = w.seriesFor('p');
    w.add(s, 0.9, true, false, false);
    c.advance(60_000); // the same slot of the ring, a minute later
    w.add(s, 0.03, true, false, false);
    const r = w.read(s);
    expect([r.p50, r.p95]).toEqual([0.03, 0.03]);
  });
});
