import { describe, expect, it } from 'vitest';
import { CompletionPace } from './pace.js';

/** Feeds completions at the given times, all with tasks waiting; returns the time of the last. */
function feed(pace: CompletionPace, times: number[]): number {
  for (const t of times) pace.note(t, true);
  return times[times.length - 1]!;
}

describe('CompletionPace', () => {
  it('reads the pace of bunched completions, not the ~0 gaps inside a bunch', () => {
    // One worker; answers wait for a busy main thread and land four at a time every 9 ms: 2.25 ms a
    // task. The median of single gaps read such a run as 0.01 ms, and nothing was ever shed.
    const pace = new CompletionPace(1);
    const times: number[] = [];
    for (let c = 1; c <= 60; c++) for (let k = 0; k < 4; k++) times.push(c * 9 + k * 0.01);
    const ms = pace.perTaskMs(feed(pace, times))!;
    expect(ms).toBeGreaterThan(2);
    expect(ms).toBeLessThan(2.6);
  });

  it('reads the pace of threads finishing together', () => {
    // Two workers finishing 4 ms tasks at the same moment: gaps alternate 0 and 4 ms, 2 ms a task.
    const pace = new CompletionPace(2);
    const times: number[] = [];
    for (let c = 1; c <= 100; c++) times.push(c * 4, c * 4 + 0.001);
    expect(pace.perTaskMs(feed(pace, times))).toBeCloseTo(2, 1);
  });

  it('one long stall among many short tasks does not stand for the pool', () => {
    // 300 tasks 1 ms apart, a 700 ms stall (a Redis pause, a worker replaced), 200 more: the mean
    // came to 2 ms a task and shed the fast traffic after the stall; the pace is still 1 ms.
    const pace = new CompletionPace(1);
    const times = [...Array.from({ length: 300 }, (_, i) => i), ...Array.from({ length: 200 }, (_, i) => 999 + i)];
    expect(pace.perTaskMs(feed(pace, times))).toBeCloseTo(1, 1);
  });

  it('ignores gaps that follow an idle pool, and completions older than a second', () => {
    const idle = new CompletionPace(1);
    for (let i = 0; i < 200; i++) idle.note(i * 5, false); // never saturated: the gaps measure the traffic
    expect(idle.perTaskMs(1000)).toBeUndefined();
    const old = new CompletionPace(1);
    const last = feed(old, Array.from({ length: 200 }, (_, i) => i * 2));
    expect(old.perTaskMs(last)).toBeCloseTo(2, 1);
    expect(old.perTaskMs(last + 1500)).toBeUndefined();
  });

  it('waits for enough windows before it answers', () => {
    const pace = new CompletionPace(1);
    expect(pace.perTaskMs(feed(pace, [0, 5, 10, 15]))).toBeUndefined(); // three 5 ms gaps: one window
    expect(pace.perTaskMs(feed(pace, Array.from({ length: 20 }, (_, i) => 20 + i * 5)))).toBeCloseTo(5, 1);
  });
});
