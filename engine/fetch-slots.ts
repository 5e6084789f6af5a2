/**
 * Since when the task in each pool slot has been waiting on remote sources,
 * for the bulkheads (bulkhead.ts). They learn that a pipeline waits from its
 * finished runs, and when an upstream turns slow no run finishes for as long
 * as the upstream takes: every worker could take a slow run meanwhile, and
 * an unrelated pipeline was refused by the pool-wide shed. A run that is
 * waiting now is seen at once.
 *
 * One SharedArrayBuffer, one Float64 per slot (at most one task per worker,
 * see slot-queue.ts): the worker stores the epoch ms its task's first pending
 * fetch started, and 0 when none is pending; the main thread reads it. Two
 * stores per fetch wave, no message, no allocation (as step-slots.ts).
 */

/** Pool side: the shared marks (made once per pool, handed to every worker). */
export class FetchSlots {
  readonly buffer: SharedArrayBuffer;
  private readonly since: Float64Array;
  constructor(readonly slots: number) {
    this.buffer = new SharedArrayBuffer(slots * 8);
    this.since = new Float64Array(this.buffer);
  }
  /** How long the task in `slot` has been waiting on a remote fetch at epoch ms `now` (0: none pending). */
  waitingMs(slot: number, now: number): number {
    const s = this.since[slot] ?? 0;
    return s > 0 ? Math.max(0, now - s) : 0;
  }
  /** The slot is free (its worker may have died in the middle of a fetch). */
  clear(slot: number): void {
    this.since[slot] = 0;
  }
}

/** Worker side: marks the task in the current slot as waiting, or not (no buffer: does nothing). */
export class FetchMarker {
  private readonly since: Float64Array | undefined;
  private slot = -1;
  constructor(buffer: SharedArrayBuffer | undefined) {
    this.since = buffer ? new Float64Array(buffer) : undefined;
  }
  /** A task in `slot` starts (-1: none); the mark of the one before is cleared. */
  task(slot: number | undefined): void {
    this.idle();
    this.slot = this.since && slot !== undefined && slot >= 0 && slot < this.since.length ? slot : -1;
  }
  /** Its first pending fetch started. */
  waiting(): void {
    if (this.slot >= 0) this.since![this.slot] = Date.now();
  }
  /** No fetch of it is pending any more. */
  idle(): void {
    if (this.slot >= 0) this.since![this.slot] = 0;
  }
}
