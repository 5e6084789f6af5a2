import { describe, expect, it } from 'vitest';
import { formatOverload, splitCores, summarize, type OverloadReport } from './overload.js';

const report = (goodputRps: number, p99: number): OverloadReport => ({
  client: 'raw', threads: 2, maxQueueWaitMs: 10,
  peak: { rps: 1000, p99: 20, concurrency: 8, clientCpuPercent: 15, serverCpuPercent: 150 },
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
    expect(text).toContain('| 2 | 1000 | 20.0 | 2000 | 970 | 0.97 | 10.0 | 48.0 ✗ | 40.0 |');
    expect(summarize([report(910, 20)]).goodputRatio.median).toBeCloseTo(0.91);
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
