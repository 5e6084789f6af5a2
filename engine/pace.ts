/**
 * The pace of a saturated worker pool: what each task in its queue really costs, measured by the
 * spacing of completions while tasks were waiting. It counts messaging and the main thread's own
 * lag, which the workers' timings leave out (under load those came to half of it, and twice the
 * allowed queue wait was admitted). Used by PoolRunner's queue-wait estimate.
 */

/** Completion spacings kept (a second of 1 ms tasks on a few threads). */
const GAPS = 4096;
/** How far back the pace looks. */
const HORIZON_MS = 1000;
/** The shortest window of completions a pace is measured over, and how many windows it needs. */
const SPAN_MS = 10;
const MIN_WINDOWS = 4;

export class CompletionPace {
  private readonly gaps = new Float64Array(GAPS);
  private readonly gapsAt = new Float64Array(GAPS);
  private gapCount = 0;
  private lastAt = -Infinity;
  private lastQueued = false;

  constructor(private readonly threads: number) {}

  /** A task completed at `now`; `queued`: tasks were waiting when it did. */
  note(now: number, queued: boolean): void {
    // Only a gap between two completions that both had tasks waiting measures the pool's pace;
    // the gap after an idle spell measures the traffic.
    if (queued && this.lastQueued) {
      const k = this.gapCount++ % GAPS;
      this.gaps[k] = now - this.lastAt;
      this.gapsAt[k] = now;
    }
    this.lastAt = now;
    this.lastQueued = queued;
  }

  /**
   * Per task, over the saturated completions of the last second: the median of (time ÷ completions)
   * over consecutive windows of at least `threads` completions and SPAN_MS; undefined while there
   * are too few. Windows, because completions come in bunches (workers finishing together, or
   * answers that waited for a busy main thread landing at once: single gaps swing between ~0 and
   * several tasks, and a median of them read a 4 ms pace as 0.02 ms). A median, so that a few long
   * stalls (a Redis pause, a worker being replaced) do not stand for the whole second: with a mean,
   * one such stall shed the traffic behind it in the chaos run.
   */
  perTaskMs(now: number): number | undefined {
    const perWindow: number[] = [];
    let sum = 0;
    let count = 0;
    for (let j = Math.min(this.gapCount, GAPS); j > 0; j--) {
      const i = (this.gapCount - j) % GAPS;
      if (now - this.gapsAt[i]! >= HORIZON_MS) continue;
      sum += this.gaps[i]!;
      count++;
      if (count >= this.threads && sum >= SPAN_MS) {
        perWindow.push(sum / count);
        sum = 0;
        count = 0;
      }
    }
    if (perWindow.length < MIN_WINDOWS) return undefined;
    return perWindow.sort((a, b) => a - b)[perWindow.length >> 1];
  }
}
