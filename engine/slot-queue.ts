/**
 * The worker pool's wait queue, in arrival order. PoolRunner hands piscina at
 * most one task per worker and keeps the rest here, because piscina's own
 * queue is not first-in first-out for tasks that carry an abort signal (every
 * task here does: the deadline watchdog). Each time a worker frees up, piscina
 * gives it the head and moves the next task to the tail; with `stricterFIFO`
 * it moves each new arrival to the head instead. On one worker at 16 in
 * flight, tasks that came in early waited up to 2.9 s while later ones were
 * served, and the p99 was 300 ms against a median of 11 ms.
 */

/** What the queue needs of an abort signal (an AbortSignal, or the pool's watchdog signal). */
export interface QueueSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(name: 'abort', listener: () => void, opts?: { once: boolean }): void;
  removeEventListener(name: 'abort', listener: () => void): void;
}

/** A pipeline's bulkhead (bulkhead.ts): a waiter of a group that may not start now is passed over. */
export interface QueueGroup {
  canStart(): boolean;
  /** Told as a task of the group starts waiting, stops waiting (started or aborted), and takes a slot. */
  enter(): void;
  leave(): void;
  take(): void;
}

interface Waiter {
  readonly start: () => void;
  readonly group: QueueGroup | undefined;
}

/** The error a wait ends with when its signal aborts (named like the one piscina rejects with). */
export class QueueAbortError extends Error {
  override readonly name = 'AbortError';
  constructor(readonly reason: unknown) {
    super('the task was aborted while it waited for a worker');
  }
}

export class SlotQueue {
  private busy = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly slots: number) {}

  /** Tasks waiting for a slot. */
  get length(): number {
    return this.waiting.length;
  }

  /** Tasks waiting that their bulkhead lets start (the queue a task of another pipeline waits behind). */
  get ready(): number {
    let n = 0;
    for (const w of this.waiting) if (!w.group || w.group.canStart()) n++;
    return n;
  }

  /**
   * Resolves once the caller holds a slot (it must call release() after); tasks wait in arrival
   * order, and one with `front` (it already waited its turn: a retry, a second round trip) goes
   * ahead of them. Rejects with QueueAbortError, leaving the queue, when `signal` aborts first.
   * A task whose `group` may not start waits, and tasks behind it that may go past it.
   */
  acquire(signal?: QueueSignal, front = false, group?: QueueGroup): Promise<void> {
    if (signal?.aborted) return Promise.reject(new QueueAbortError(signal.reason));
    if (this.busy < this.slots && this.waiting.length > 0) this.fill();
    if (this.busy < this.slots && (!group || group.canStart()) && (this.waiting.length === 0 || this.ready === 0)) {
      this.busy++;
      group?.take();
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        group?.leave();
        reject(new QueueAbortError(signal!.reason));
      };
      const waiter: Waiter = {
        group,
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          group?.leave();
          group?.take();
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      group?.enter();
      if (front) this.waiting.unshift(waiter);
      else this.waiting.push(waiter);
    });
  }

  /**
   * Free slots go to the waiting tasks whose group lets them start now. A bulkhead's share can lapse
   * with no slot released (its running task's remote fetch answered: bulkhead.ts), and a free slot
   * with such a task waiting made every later arrival wait behind it: release() hands on one slot,
   * so the pool ran on one worker fewer until its queue emptied.
   */
  private fill(): void {
    while (this.busy < this.slots) {
      const i = this.waiting.findIndex((w) => !w.group || w.group.canStart());
      if (i < 0) return;
      this.busy++;
      this.waiting.splice(i, 1)[0]!.start();
    }
  }

  /** Gives the caller's slot to the next waiting task its group lets start, or frees it. */
  release(): void {
    const i = this.waiting.findIndex((w) => !w.group || w.group.canStart());
    if (i < 0) {
      this.busy--;
      return;
    }
    const [next] = this.waiting.splice(i, 1);
    next!.start();
  }
}
