import { expect, it } from 'vitest';
import { Bulkheads } from './bulkhead.js';
import { FetchMarker, FetchSlots } from './fetch-slots.js';
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

it('one long run is not taken as the cost of every waiter; runs that turned slow are', () => {
  const b = new Bulkheads(2);
  const io = b.group('io', undefined);
  const other = b.group('other', undefined);
  other.take(); // another pipeline runs: the automatic share applies
  for (let i = 0; i < 5; i++) b.note(io, 30, 2); // waits on Redis a little, runs take 2 ms
  io.take();
  io.runsIn(0, performance.now() - 600); // a fresh worker loading the pipeline, a probe: one long run
  for (let i = 0; i < 3; i++) io.enter();
  // Was (3 + 1) × 600 ms ÷ 1 = 2,400 ms, refused; the slot frees within about 600 ms and each waiter costs ~2 ms.
  expect(b.shed(io, 2, 1000, 64)).toBeUndefined();
  // The runs themselves turned slow (an upstream at 400 ms): their moving average follows within a few runs.
  for (let i = 0; i < 5; i++) b.note(io, 400, 400);
  io.runsIn(0, performance.now() - 100);
  expect(b.shed(io, 2, 1000, 64)?.message).toMatch(/the expected wait \(\d+ ms\) exceeds the limit of 1000 ms/);
  // A run stuck past the limit refuses on its own.
  const stuck = new Bulkheads(2);
  const s = stuck.group('s', 1);
  s.take();
  s.runsIn(0, performance.now() - 1500);
  expect(stuck.shed(s, 2, 1000, 64)).toBeDefined();
});

it('a running task waiting on a remote fetch now holds its pipeline to its share before any run finished', () => {
  const fetches = new FetchSlots(2);
  const b = new Bulkheads(2, undefined, fetches);
  const io = b.group('io', undefined);
  const other = b.group('other', undefined);
  other.take(); // another pipeline runs
  io.take();
  io.runsIn(1);
  expect(io.canStart()).toBe(true); // its runs never waited, and its running task fetches nothing
  // The worker marks the task in slot 1 as waiting on a fetch since 50 ms ago (an upstream that turned slow).
  const worker = new FetchMarker(fetches.buffer);
  worker.task(1);
  worker.waiting();
  (new Float64Array(fetches.buffer))[2] = Date.now() - 50;
  expect(io.canStart()).toBe(false); // it waits for its own slot: the last free worker stays for the others
  expect(other.canStart()).toBe(true);
  io.enter();
  expect(b.shed(io, 2, 10, 1)?.message).toMatch(/pipeline 'io' holds its limit of 1 of 2 worker\(s\) \(a run of it has waited \d+ ms on a remote source so far; set max_workers/);
  io.leave();
  worker.idle(); // its fetch answered: the run waited, and holds its pipeline to its share until it ends
  expect(io.canStart()).toBe(false);
  worker.task(-1); // it ended
  expect(io.canStart()).toBe(true);
  worker.task(1);
  worker.waiting(); // a fetch just started: not yet a wait
  expect(io.canStart()).toBe(true);
  worker.task(-1);
  (new Float64Array(fetches.buffer))[2] = Date.now() - 50;
  io.done(1); // the task left its slot: its mark is no longer its pipeline's
  expect([...io.runs.keys()]).toEqual([]);
  io.take();
  io.runsIn(0);
  expect(io.canStart()).toBe(true);
});

it('a single pipeline waiting on a fetch now still uses every worker', () => {
  const fetches = new FetchSlots(2);
  const b = new Bulkheads(2, undefined, fetches);
  const io = b.group('io', undefined);
  io.take();
  io.runsIn(0);
  (new Float64Array(fetches.buffer))[0] = Date.now() - 500; // slot 0 has waited 500 ms
  expect(io.canStart()).toBe(true);
});
