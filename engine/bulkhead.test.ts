import { expect, it } from 'vitest';
import { Bulkheads } from './bulkhead.js';
import { SlotQueue } from './slot-queue.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

it('a pipeline at its limit waits for its own tasks, and the others go past it', async () => {
  const b = new Bulkheads(2);
  const q = new SlotQueue(2);
  const slow = b.group('slow', 1); // max_workers: 1, enforced always
  const fast = b.group('fast', undefined);
  const order: string[] = [];
  await q.acquire(undefined, false, slow);
  const slow2 = q.acquire(undefined, false, slow).then(() => void order.push('slow2'));
  const fast1 = q.acquire(undefined, false, fast).then(() => void order.push('fast1'));
  await tick();
  // slow2 waits for slow's own slot; fast1 took the free one past it.
  expect(order).toEqual(['fast1']);
  expect(q.ready).toBe(0);
  expect(q.length).toBe(1);
  const shed = b.shed(slow, 500, 400, 64);
  expect(shed?.message).toMatch(/pipeline 'slow' holds its limit of 1 of 2 worker\(s\) \(max_workers\) and 1 of its requests wait/);
  expect(shed?.details.retryAfterMs).toBeGreaterThanOrEqual(10);
  expect(b.shed(fast, 1, 400, 64)).toBeUndefined();
  fast.done();
  q.release(); // fast's slot: slow2 still may not start
  await tick();
  expect(order).toEqual(['fast1']);
  slow.done();
  q.release();
  await Promise.all([slow2, fast1]);
  expect(order).toEqual(['fast1', 'slow2']);
});

it('by default only a pipeline whose runs wait on remote sources is held to half, and only while others want workers', () => {
  const b = new Bulkheads(4);
  const io = b.group('io', undefined);
  io.take();
  io.take();
  expect(io.canStart()).toBe(true); // CPU-bound so far: no limit
  for (let i = 0; i < 3; i++) b.note(io, 500);
  expect(io.canStart()).toBe(true); // waits on I/O, but no other pipeline is active
  const other = b.group('other', undefined);
  other.take();
  expect(io.canStart()).toBe(false); // at 2 of 4 while another pipeline runs
  expect(other.canStart()).toBe(true);
});
