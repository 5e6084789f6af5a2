/**
 * Pool utilisation over a recent window: the time workers spent on tasks in
 * the last `windowMs` ÷ (threads × that window). piscina's own `utilization`
 * is not used: in piscina 5 it divides run time by 1000 (it reads about a
 * thousandth of the truth) and it averages since the pool started.
 *
 * Finished tasks add their whole run to the slot they finished in; tasks
 * still running add what they have run so far. Recording is two additions.
 */
export class BusyWindow {
  private readonly busy: Float64Array;
  /** The slot number (time ÷ slot width) each entry of `busy` holds. */
  private readonly stamp: Float64Array;
  private readonly width: number;
  private readonly since: number;
  private running = 0;
  private startSum = 0;

  constructor(
    readonly windowMs = 10_000,
    private readonly slots = 10,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.width = windowMs / slots;
    this.busy = new Float64Array(slots);
    this.stamp = new Float64Array(slots).fill(-1);
    this.since = now();
  }

  /** A task started; pass what this returns to `end`. */
  begin(): number {
    const t = this.now();
    this.running++;
    this.startSum += t;
    return t;
  }

  end(t0: number): void {
    const t = this.now();
    this.running--;
    this.startSum -= t0;
    const n = Math.floor(t / this.width);
    const i = n % this.slots;
    if (this.stamp[i] !== n) {
      this.stamp[i] = n;
      this.busy[i] = 0;
    }
    this.busy[i]! += t - t0;
  }

  /** Busy share of `threads` over the window (or since start, when that is shorter), 0..1. */
  value(threads: number): number {
    if (threads <= 0) return 0;
    const t = this.now();
    const n = Math.floor(t / this.width);
    let busy = 0;
    for (let i = 0; i < this.slots; i++) if (this.stamp[i]! > n - this.slots) busy += this.busy[i]!;
    const span = Math.min(t - this.since, (this.slots - 1) * this.width + (t - n * this.width));
    busy += Math.min(this.running * t - this.startSum, this.running * span);
    return span <= 0 ? 0 : Math.max(0, Math.min(1, busy / (threads * span)));
  }
}
