import { describe, expect, it } from 'vitest';
import type { LoadResult } from './generator.js';
import { allowedCpus, formatOverload, interleaved, peakOf, splitCores, summarize, type OverloadReport } from './overload.js';

const report = (goodputRps: number, p99: number): OverloadReport => ({
  client: 'raw', threads: 2, maxQueueWaitMs: 10, cores: { engine: '0-2', generator: '3' },
  peak: { rps: 1000, turns: [1020, 980], searchRps: 1100, p99: 20, concurrency: 8, kneeConcurrency: 4, clientCpuPercent: 15, serverCpuPercent: 150 },
  offeredRps: 2000, goodputRps, accepted: { p50: 10, p99 }, statuses: { 200: goodputRps }, rejected: { p99: 5 },
  clientCpuPercent: 27, serverCpuPercent: 140, goodputOk: goodputRps >= 900, p99Ok: p99 <= 40,
});

describe('overload series', () => {
  it('summarizes runs by the median goodput ratio and counts the runs that met each part', () => {
    const s = summarize([report(370, 30), report(970, 48), report(650, 38), report(850, 41)]);
    expect(s.goodputRatio).toEqual({ median: 0.75, min: 0.37, max: 0.97 });
    expect([s.goodputOkRuns, s.p99OkRuns, s.bothOkRuns]).toEqual([1, 2, 0]);
    const text = formatOverload(s);
    expect(text).toContain('median 0.75 (0.37–0.97)');
    expect(text).toContain('| 2 | 1000: 1020 980 (1100, 8) | 20.0 (4) | 2000 | 970 | 0.97 | 10.0 | 48.0 ✗ | 40.0 |');
    expect(text).toContain('Engine on cores 0-2, generator on 3 (read from /proc during each run). 2 worker threads');
    expect(summarize([report(910, 20)]).goodputRatio.median).toBeCloseTo(0.91);
  });
});

describe('interleaved', () => {
  it('judges each 2x turn by the mean of the peak turns around it, and the run by the means', () => {
    // Drift: the peak falls from 1,000 to 800 over the run; served 900 then 720.
    expect(interleaved([1000, 900, 800], [900, 720])).toEqual({ peakRps: 900, goodputRps: 810 });
    expect(() => interleaved([1000], [900])).toThrow(RangeError);
    expect(() => interleaved([1000], [])).toThrow(RangeError);
  });
});

describe('allowedCpus', () => {
  it('reads a process\'s affinity back from /proc (where there is one)', () => {
    const mine = allowedCpus(process.pid);
    if (process.platform === 'linux') expect(mine).toMatch(/^[0-9][0-9,-]*$/);
    else expect(mine).toBe('?');
    expect(allowedCpus(2 ** 30)).toBe('?');
  });
});

describe('splitCores', () => {
  it('gives the generator the last quarter of the cores (at least one) and the engine the rest', () => {
    expect(splitCores(1)).toBeUndefined();
    expect(splitCores(2)).toEqual({ engine: '0', engineCores: 1, generator: '1' });
    expect(splitCores(4)).toEqual({ engine: '0-2', engineCores: 3, generator: '3' });
    expect(splitCores(16)).toEqual({ engine: '0-11', engineCores: 12, generator: '12-15' });
  });
});

describe('peakOf', () => {
  const run = (concurrency: number, good: number, p99: number, errors = 0): LoadResult => ({
    mode: 'closed', concurrency, durationS: 1, warmupS: 0, requests: good + errors, completed: good + errors, rps: good + errors,
    errors: { non2xx: errors, network: 0, timeout: 0, check: 0, dropped: 0 }, errorCount: errors,
    statusCounts: {}, errorCodes: {}, latencyMs: { p50: 1, p99 } as LoadResult['latencyMs'], goodLatencyMs: { p50: 1, p99 } as LoadResult['goodLatencyMs'],
    otherLatencyMs: { p50: 0, p99: 0 } as LoadResult['otherLatencyMs'], clientCpuPercent: 10,
  });

  it('takes the best goodput as the peak and the p99 of the first run within 95 % of it', () => {
    const { best, knee } = peakOf([run(4, 500, 9), run(8, 640, 14), run(16, 670, 30), run(32, 690, 80), run(64, 700, 400)]);
    expect([best.concurrency, knee.concurrency, knee.goodLatencyMs.p99]).toEqual([64, 16, 30]);
  });

  it('measures the peak again at the deepest run within 95 % of the best, not a shallower best', () => {
    const { best, knee, deep } = peakOf([run(4, 720, 9), run(8, 700, 12), run(16, 690, 25), run(32, 600, 50), run(64, 900, 90, 40)]);
    expect([best.concurrency, knee.concurrency, deep.concurrency]).toEqual([4, 4, 16]);
  });

  it('leaves out runs with more than 1 % errors, unless every run has them', () => {
    expect(peakOf([run(4, 500, 9), run(8, 900, 12, 50)]).best.concurrency).toBe(4);
    expect(peakOf([run(4, 500, 9, 20), run(8, 900, 12, 50)]).best.concurrency).toBe(8);
  });
});
