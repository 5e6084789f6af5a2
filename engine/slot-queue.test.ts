import { describe, expect, it } from 'vitest';
import { QueueAbortError, SlotQueue } from './slot-queue.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('SlotQueue', () => {
  it('hands slots out in arrival order, and a task marked front ahead of the waiting ones', async () => {
    const q = new SlotQueue(1);
    const order: string[] = [];
    await q.acquire(); // the one slot is taken
    const wait = (name: string, front = false): Promise<void> => q.acquire(undefined, front).then(() => void order.push(name));
    const all = [wait('a'), wait('b'), wait('c'), wait('retry', true)];
    expect(q.length).toBe(4);
    for (let i = 0; i < 4; i++) {
      q.release();
      await tick();
    }
    await Promise.all(all);
    expect(order).toEqual(['retry', 'a', 'b', 'c']);
    q.release();
    expect(q.length).toBe(0);
    // Every slot free again: the next two take one each at once.
    const q2 = new SlotQueue(2);
    await q2.acquire();
    await q2.acquire();
    expect(q2.length).toBe(0);
  });

  it('takes an aborted task out of the queue with its reason, and the others keep their order', async () => {
    const q = new SlotQueue(1);
    await q.acquire();
    const ac = new AbortController();
    const order: string[] = [];
    const a = q.acquire().then(() => void order.push('a'));
    const gone = q.acquire(ac.signal).catch((e: unknown) => e);
    const c = q.acquire().then(() => void order.push('c'));
    ac.abort('past its deadline');
    const err = await gone;
    expect(err).toBeInstanceOf(QueueAbortError);
    expect((err as QueueAbortError).reason).toBe('past its deadline');
    expect(q.length).toBe(2);
    q.release();
    await a;
    q.release();
    await c;
    expect(order).toEqual(['a', 'c']);
    // Already aborted: refused without waiting.
    await expect(q.acquire(ac.signal)).rejects.toBeInstanceOf(QueueAbortError);
  });

  it('a free slot goes to a waiting task whose group may start again though no slot was released', async () => {
    const q = new SlotQueue(2);
    let held = true; // a bulkhead share that lapses by itself (its running task's fetch answered)
    const slow = { canStart: () => !held, enter: () => undefined, leave: () => undefined, take: () => undefined };
    const order: string[] = [];
    await q.acquire(); // a task of another group holds one slot
    const s2 = q.acquire(undefined, false, slow).then(() => void order.push('slow'));
    await tick();
    expect(order).toEqual([]);
    held = false;
    // The next arrival: the slot still free goes to the waiting task, and the arrival waits its turn.
    // Was: the arrival waited behind it with a slot free, and each release handed on one slot.
    const f = q.acquire().then(() => void order.push('fast'));
    await Promise.race([s2, new Promise((r) => setTimeout(r, 200))]);
    await tick();
    expect(order).toEqual(['slow']);
    q.release();
    await f;
    expect(order).toEqual(['slow', 'fast']);
  });
});
