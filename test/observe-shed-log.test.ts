/**
 * Overload refusals are logged at most once a second per pipeline, with a
 * count; other refusals (bad inputs) still get a line each.
 */
import { describe, expect, it } from 'vitest';
import { AirmailError } from '../engine/errors.js';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';
import { EngineMetrics } from '../engine/observe/metrics.js';

function observed(metrics: EngineMetrics | false = false): { obs: Observability; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger({ level: 'info', sink: { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) }, pretty: false });
  return { obs: new Observability({ metrics, logger }), lines };
}

describe('refusal logs', () => {
  it('log overload refusals once a second per pipeline, with how many there were', async () => {
    const { obs, lines } = observed();
    for (let i = 0; i < 500; i++) obs.rejected('p', new AirmailError('OVERLOADED', 'the worker queue is full (64 waiting)'));
    obs.rejected('q', new AirmailError('OVERLOADED', 'the worker queue is full (64 waiting)'));
    // The first refusal of each pipeline at once, the rest of p's counted.
    expect(lines.map((l) => [l['pipeline'], l['count']])).toEqual([['p', 1], ['q', 1]]);
    await new Promise((r) => setTimeout(r, 1150));
    expect(lines.map((l) => [l['pipeline'], l['count']])).toEqual([['p', 1], ['q', 1], ['p', 499]]);
    expect(lines[2]!['msg']).toMatch(/^p refused 499 requests in 1\.\d s: the worker queue is full/);
    expect(lines[2]).toMatchObject({ status: 503, code: 'OVERLOADED' });
  });

  it('count and log an early overload refusal (no error object) as a rejected OVERLOADED error', () => {
    const m = new EngineMetrics();
    const { obs, lines } = observed(m);
    obs.shed('p', 'the worker queue is full (3 waiting)');
    obs.rejected('p', new AirmailError('OVERLOADED', 'the worker queue is full (4 waiting)'));
    obs.shed('p', 'the worker queue is full (5 waiting)');
    expect(m.requests.get(['p', '503'])).toBe(3);
    expect(m.errors.get(['p', 'OVERLOADED', ''])).toBe(3);
    // One line at once; the other two wait for the once-a-second count.
    expect(lines).toEqual([expect.objectContaining({ msg: 'p refused: the worker queue is full (3 waiting)', pipeline: 'p', status: 503, code: 'OVERLOADED', count: 1 })]);
  });

  it('still log every other refusal', () => {
    const { obs, lines } = observed();
    for (let i = 0; i < 3; i++) obs.rejected('p', new AirmailError('INPUT_INVALID', `inputs of pipeline 'p' are invalid (${i})`));
    expect(lines.map((l) => l['code'])).toEqual(['INPUT_INVALID', 'INPUT_INVALID', 'INPUT_INVALID']);
  });
});

describe('overload refusals from the pool (after a run began)', () => {
  // Found by a soak: a request the pool's full queue refused after the run began (POST /execute,
  // ModelScore pipelines) went through `fail`: one `error` line per refused request, each timed in
  // the latency histogram, while overload refusals are meant to be `warn` lines once a second.
  it('are counted, not timed, and logged once a second per pipeline', () => {
    const m = new EngineMetrics();
    const { obs, lines } = observed(m);
    for (let i = 0; i < 500; i++) {
      const r = obs.begin({ name: 'ex' + i, version: 'v' + i }, {}, true);
      obs.fail(r, new AirmailError('OVERLOADED', 'the worker queue is full (128 waiting)'), undefined);
    }
    const r = obs.begin({ name: 'p', version: 'v1' }, {});
    obs.fail(r, new AirmailError('OVERLOADED', 'the worker queue is full (128 waiting)'), undefined);
    expect(lines.map((l) => [l['level'], l['pipeline'], l['count']])).toEqual([['warn', '_execute', 1], ['warn', 'p', 1]]);
    expect(m.requests.get(['_execute', '503'])).toBe(500);
    expect(m.errors.get(['_execute', 'OVERLOADED', ''])).toBe(500);
    expect(m.latency.all()).toEqual([]);
  });
});
