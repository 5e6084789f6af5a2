import { describe, expect, it } from 'vitest';
import { AirmailError } from '../errors.js';
import { DutyLimit } from './duty.js';

describe('DutyLimit', () => {
  it('after a run of t ms, refuses the next for t × (1 − share) / share, saying when to retry', async () => {
    let now = 0;
    const d = new DutyLimit('a dry run', { share: 0.25, freeMs: 50 }, { now: () => now, busy: () => now });
    await d.run(async () => { now += 200; });
    now += 100;
    const err = await d.run(async () => 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AirmailError);
    expect(err).toMatchObject({ code: 'OVERLOADED', details: { retryAfterMs: 500 } });
    expect((err as Error).message).toBe("a dry run may take at most 25 % of the server's time; the last one took long enough that the next may start in 500 ms");
    now += 500;
    expect(await d.run(async () => 2)).toBe(2);
  });

  it('short runs leave no wait, and a failed run counts as well', async () => {
    let now = 0;
    const d = new DutyLimit('x', { share: 0.25, freeMs: 50 }, { now: () => now, busy: () => now });
    for (let i = 0; i < 5; i++) expect(await d.run(async () => { now += 40; return i; })).toBe(i);
    await expect(d.run(async () => { now += 100; throw new Error('bad config'); })).rejects.toThrow('bad config');
    await expect(d.run(async () => 0)).rejects.toMatchObject({ code: 'OVERLOADED' });
  });

  it('counts what the main thread computed, not time spent waiting', async () => {
    let now = 0;
    let busy = 0;
    const d = new DutyLimit('x', { share: 0.25, freeMs: 50 }, { now: () => now, busy: () => busy });
    // 2 s waiting on a registry, 10 ms of work: no wait after it.
    await d.run(async () => { now += 2000; busy += 10; });
    expect(await d.run(async () => { busy += 120; now += 120; return 'ran'; })).toBe('ran');
    await expect(d.run(async () => 0)).rejects.toMatchObject({ code: 'OVERLOADED', details: { retryAfterMs: 360 } });
  });
});
