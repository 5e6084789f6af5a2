import { describe, expect, it } from 'vitest';
import type { Plan } from './config/plan.js';
import { WorkFrame } from './frame.js';
import { CandidateMemo } from './memo.js';
import { Doorkeeper, WINDOW } from './memo-admission.js';

// A step keyed by the request ($client_id) made a memo entry per client, each never used again, and
// the LRU evicted the shared ones (a warehouse's candidates) for them. Once full, the memo now keeps
// a new key only on its second sighting.
const plan = { version: 'v1' } as Plan;
const frame = (n: number): WorkFrame => new WorkFrame('id', n, { id: Int32Array.from({ length: n }, (_, i) => i) });
const all = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);
const ROWS = 100; // an entry of about 256 + 100 × (4 + 48) bytes

describe('candidate memo admission', () => {
  it('keeps the shared entries through a flood of one-off keys, counted in hits', () => {
    const memo = new CandidateMemo(20 * (256 + 40 + ROWS * 52)); // room for about 20 entries
    const warehouses = Array.from({ length: 10 }, (_, w) => `["w${w}"]`);
    const request = (key: string): void => {
      if (!memo.get(plan, key)) memo.put(plan, key, frame(ROWS), all(ROWS));
    };
    for (const w of warehouses) request(w);
    const hits0 = memo.hits;
    // Each warehouse's request comes again between 1,000 requests of clients seen once.
    for (let c = 0; c < 1000; c++) {
      request(`["w${c % 10}",${c}]`);
      request(warehouses[c % 10]!);
    }
    expect(memo.hits - hits0).toBe(1000); // without admission, every one of them was evicted: 0
    expect(memo.refused).toBeGreaterThan(900);
  });

  it('admits every key while the memo has room, and a one-off key once it is seen again', () => {
    const memo = new CandidateMemo(4 * (256 + 40 + ROWS * 52)); // 4 entries (one may take a quarter)
    for (const k of ['a', 'b', 'c', 'd']) memo.put(plan, k, frame(ROWS), all(ROWS));
    expect(memo.size).toBe(4);
    memo.put(plan, 'e', frame(ROWS), all(ROWS));
    expect(memo.get(plan, 'e')).toBeUndefined(); // full, seen once: not kept
    memo.put(plan, 'e', frame(ROWS), all(ROWS));
    expect(memo.get(plan, 'e')).toBeDefined(); // the second time it is
    expect(memo.size).toBe(4);
  });

  it('forgets a sighting after two windows', () => {
    const door = new Doorkeeper();
    expect(door.sighted('k')).toBe(false);
    expect(door.sighted('k')).toBe(true);
    for (let i = 0; i < 2 * WINDOW; i++) door.sighted(`other ${i}`);
    expect(door.sighted('k')).toBe(false);
  });
});
