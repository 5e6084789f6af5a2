import { describe, expect, it } from 'vitest';
import { collection, failedLine, quantile, stretches } from './stalls.js';

describe('stretches', () => {
  it('groups slow requests whose due times are close, in due order, and leaves the fast ones out', () => {
    const samples: [number, number][] = [[1000, 30], [1005, 25], [990, 12], [1500, 2], [1030, 11], [2400, 40], [5, 1]];
    expect(stretches(samples, 10, 20)).toEqual([
      { fromMs: 990, toMs: 1005, count: 3, worstMs: 30 },
      { fromMs: 1030, toMs: 1030, count: 1, worstMs: 11 },
      { fromMs: 2400, toMs: 2400, count: 1, worstMs: 40 },
    ]);
    expect(stretches(samples, 100, 20)).toEqual([]);
  });
});

describe('collection', () => {
  it('shortens a full collection from --trace-gc and ignores the rest', () => {
    const full = '[20156:0x7f114c000f00]    10168 ms: Mark-Compact 18.6 (27.4) -> 14.5 (27.4) MB, 13.55 / 0.01 ms  (+ 0.3 ms in 3 steps since start of marking, biggest step 0.2 ms, walltime since start of marking 33 ms) (average mu = 0.996, current mu = 0.995) finalize incremental marking via stack guard; GC in old space requested';
    expect(collection(full)).toBe('isolate 0x7f114c000f00: 18.6 -> 14.5 MB, pause 13.55 ms, marking for 33 ms before it');
    expect(collection('[20156:0x7f114c000f00]    10170 ms: Scavenge 19.0 (27.4) -> 14.9 (27.4) MB, 0.91 / 0.00 ms  (average mu = 0.996) allocation failure;')).toBeUndefined();
    expect(collection('{"level":"info","msg":"listening"}')).toBeUndefined();
  });
});

describe('quantile', () => {
  it('takes the nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect([quantile(xs, 0.5), quantile(xs, 0.99), quantile(xs, 1), quantile(xs, 0)]).toEqual([50, 99, 100, 1]);
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe('failedLine (stalls.ts timed 404s as the engine\'s latency when ../shared/bench was missing)', () => {
  it('says how many were not answered 2xx, by status, with the first answer; nothing when all were', () => {
    expect(failedLine({}, 900)).toBeUndefined();
    const line = failedLine({ '404': 898, 'no answer': 2 }, 900, `404 {"reason":"no pipeline named 'complimentary_items' is loaded"}`);
    expect(line).toBe(`900 of 900 requests were not answered 2xx (404: 898, no answer: 2); the first: 404 {"reason":"no pipeline named 'complimentary_items' is loaded"}; their latencies are left out`);
  });
});
