/**
 * The chaos scenario (loadtest/chaos.ts) for a few seconds: config reloads,
 * Redis paused, workers killed from outside and by a poison request, and
 * malformed requests, with zero lost or wrong responses among those that
 * should succeed. The lead runs the full 60 s with `npx tsx loadtest/chaos.ts`.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from '../loadtest/chaos.js';
import { HAS_BENCH } from './helpers.js';
import { redisOrSkip } from './redis-server.js';

describe('chaos', () => {
  it('a short chaos run loses and corrupts nothing', async () => {
    const redis = redisOrSkip();
    const r = await runChaos({
      durationMs: 6000,
      workload: HAS_BENCH ? 'bench' : 'demo',
      redis,
      concurrency: 6,
      every: { reload: 700, redisPause: 2500, workerKill: 2500, poison: 3000, malformed: 100 },
    });
    expect(r.examples.join('\n')).toBe(''); // whole, where toEqual([]) cut them to "[ …(6) ]"
    expect(r.lost).toBe(0);
    expect(r.wrong).toBe(0);
    expect(r.ok).toBeGreaterThan(50);
    expect(r.events.reloads).toBeGreaterThan(2);
    expect(r.events.workerKills).toBeGreaterThanOrEqual(2);
    if (redis) expect(r.events.redisPauses).toBeGreaterThanOrEqual(2);
    expect(r.poison.sent).toBeGreaterThan(0);
    expect(r.poison.answered500).toBe(r.poison.sent);
    expect(r.malformed.sent).toBeGreaterThan(20);
    expect(r.malformed.answered4xx).toBe(r.malformed.sent);
  }, 90_000);
});
