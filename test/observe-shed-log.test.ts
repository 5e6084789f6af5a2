/**
 * Overload refusals are logged at most once a second per pipeline, with a
 * count; other refusals (bad inputs) still get a line each.
 */
import { describe, expect, it } from 'vitest';
import { AirmailError } from '../engine/errors.js';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';

function observed(): { obs: Observability; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger({ level: 'info', sink: { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) }, pretty: false });
  return { obs: new Observability({ metrics: false, logger }), lines };
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

  it('still log every other refusal', () => {
    const { obs, lines } = observed();
    for (let i = 0; i < 3; i++) obs.rejected('p', new AirmailError('INPUT_INVALID', `inputs of pipeline 'p' are invalid (${i})`));
    expect(lines.map((l) => l['code'])).toEqual(['INPUT_INVALID', 'INPUT_INVALID', 'INPUT_INVALID']);
  });
});
