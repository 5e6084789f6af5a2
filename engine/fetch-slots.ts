/**
 * Since when the task in each pool slot has been waiting on remote sources,
 * for the bulkheads (bulkhead.ts). They learn that a pipeline waits from its
 * finished runs, and when an upstream turns slow no run finishes for as long
 * as the upstream takes: every worker could take a slow run meanwhile, and
 * an unrelated pipeline was refused by the pool-wide shed. A run that is
 * waiting now is seen at once.
 *
 * One SharedArrayBuffer, two Float64 per slot (at most one task per worker,
 * see slot-queue.ts): the epoch ms its task's first pending fetch started (0:
 * none pending), and the ms its task's fetches that answered waited; the main
 * thread reads the task's wait so far. A few stores per fetch wave, no
 * message, no allocation (as step-slots.ts). What a run waited stays until it
 * ends: its pipeline is not let past its share again between its fetch's
 * answer and the run's end, when the pool learns it.
 */

/** Pool side: the shared marks (made once per pool, handed to every worker). */
export class FetchSlots {
  readonly buffer: SharedArrayBuffer;
  private readonly since: Float64Array;
  constructor(readonly slots: number) {
    this.buffer = new SharedArrayBuffer(slots * 16);
    this.since = new Float64Array(this.buffer);
  }
  /** How long the task in `slot` has waited on remote fetches by epoch ms `now` (the pending one included). */
  waitingMs(slot: number, now: number): number {
    const s = this.since[2 * slot] ?? 0;
    return (this.since[2 * slot + 1] ?? 0) + (s > 0 ? Math.max(0, now - s) : 0);
  }
  /** The slot is free (its worker may have died in the middle of a fetch). */
  clear(slot: number): void {
    this.since[2 * slot] = 0;
    this.since[2 * slot + 1] = 0;
  }
}

/** Worker side: marks the task in the current slot as waiting, or not (no buffer: does nothing). */
export class FetchMarker {
  private readonly since: Float64Array | undefined;
  private slot = -1;
  constructor(buffer: SharedArrayBuffer | undefined) {
    this.since = buffer ? new Float64Array(buffer) : undefined;
  }
  /** A task in `slot` starts (-1: none); the marks of the one before are cleared. */
  task(slot: number | undefined): void {
    if (this.slot >= 0) this.since![2 * this.slot] = this.since![2 * this.slot + 1] = 0;
    this.slot = this.since && slot !== undefined && slot >= 0 && 2 * slot < this.since.length ? slot : -1;
  }
  /** Its first pending fetch started. */
  waiting(): void {
    if (this.slot >= 0) this.since![2 * this.slot] = Date.now();
  }
  /** No fetch of it is pending any more: the wait is added to the task's. */
  idle(): void {
    if (this.slot < 0) return;
    const i = 2 * this.slot;
    const s = this.since![i]!;
    if (s > 0) this.since![i + 1] = this.since![i + 1]! + Math.max(0, Date.now() - s);
    this.since![i] = 0;
  }
}
