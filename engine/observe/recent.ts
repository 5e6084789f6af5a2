/**
 * What is happening now, for the /ui page: request counts, latency quantiles, empty results and
 * errors over the last minute, kept in a ring of 10-second slots per series. The Prometheus
 * histograms in metrics.ts count since the server started (a scraper takes differences); quantiles
 * read from them after an hour describe the hour, not this minute.
 *
 * Recording allocates nothing: a series is one Float64Array made on its first use; a slot whose
 * time has passed is zeroed in place when it is written again, and skipped when read.
 */

/**
 * Per slot: these counters (summed over the window), the least and the greatest time that went into
 * the quantiles (the estimates are clamped into them), then one count per latency bucket and one
 * past the last bucket.
 */
const REQUESTS = 0;
const ERRORS = 1;
const EMPTY = 2;
const TIMED = 3;
const SECONDS = 4;
const SUMMED = 5;
const MIN = 5;
const MAX = 6;
/** Times that went into the quantiles. */
const QUANTILED = 7;
const FIELDS = 8;

export interface RecentOptions {
  /** Upper bounds of the latency buckets, in seconds (the quantiles are interpolated in them). */
  readonly buckets: readonly number[];
  /** Slots in the ring (default 6). */
  readonly slots?: number;
  /** Milliseconds per slot (default 10 000). */
  readonly slotMs?: number;
  /** A monotonic clock in milliseconds (default performance.now); tests pass their own. */
  readonly now?: () => number;
}

/** One series' ring: `slots` rows of FIELDS + buckets + 1 numbers, and the slot number each row holds. */
export interface RecentSeries {
  readonly data: Float64Array;
  readonly epochs: Float64Array;
}

/**
 * A series read over the window. Quantiles are NaN when no timed request fell in a bucket; they are
 * interpolated in the buckets, then kept within the least and greatest time seen (one request: its time).
 */
export interface RecentTotals {
  readonly requests: number;
  readonly errors: number;
  readonly empty: number;
  /** Requests that were timed (a refusal before any run is counted, not timed). */
  readonly timed: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p95: number;
  /** Seconds the window covers now (less than the window while the server is younger). */
  readonly span: number;
}

export class RecentWindow {
  readonly slots: number;
  readonly slotMs: number;
  private readonly buckets: readonly number[];
  private readonly width: number;
  private readonly now: () => number;
  private readonly started: number;
  private readonly series = new Map<string, RecentSeries>();
  private readonly scratch: Float64Array;

  constructor(opts: RecentOptions) {
    this.buckets = opts.buckets;
    this.slots = opts.slots ?? 6;
    this.slotMs = opts.slotMs ?? 10_000;
    this.now = opts.now ?? (() => performance.now());
    this.started = this.now();
    this.width = FIELDS + this.buckets.length + 1;
    this.scratch = new Float64Array(this.buckets.length + 1);
  }

  /** The window's length in seconds. */
  get seconds(): number {
    return (this.slots * this.slotMs) / 1000;
  }

  /** The series under `key`, made on first use; keep it to record without a lookup. */
  seriesFor(key: string): RecentSeries {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { data: new Float64Array(this.slots * this.width), epochs: new Float64Array(this.slots).fill(-1) }));
    return s;
  }

  get(key: string): RecentSeries | undefined {
    return this.series.get(key);
  }

  /** Removes the series whose key `which` accepts. */
  drop(which: (key: string) => boolean): void {
    for (const k of this.series.keys()) if (which(k)) this.series.delete(k);
  }

  /**
   * One request or step call. `seconds`: its time, or NaN when it was not timed; `quantile`: its
   * time goes into the p50/p95 histogram (the pipelines keep only their 200s there).
   */
  add(s: RecentSeries, seconds: number, quantile: boolean, error: boolean, empty: boolean): void {
    const d = s.data;
    const o = this.row(s);
    d[o + REQUESTS]!++;
    if (error) d[o + ERRORS]!++;
    if (empty) d[o + EMPTY]!++;
    if (seconds !== seconds) return;
    d[o + TIMED]!++;
    d[o + SECONDS]! += seconds;
    if (!quantile) return;
    const b = this.buckets;
    let i = 0;
    while (i < b.length && seconds > b[i]!) i++;
    // A zeroed row holds no quantile time yet.
    if (d[o + QUANTILED]!++ === 0) {
      d[o + MIN] = seconds;
      d[o + MAX] = seconds;
    } else {
      if (seconds < d[o + MIN]!) d[o + MIN] = seconds;
      if (seconds > d[o + MAX]!) d[o + MAX] = seconds;
    }
    d[o + FIELDS + i]!++;
  }

  /** The offset of the current slot's row, zeroed first when it last held an older slot. */
  private row(s: RecentSeries): number {
    const epoch = Math.floor(this.now() / this.slotMs);
    const i = epoch % this.slots;
    const o = i * this.width;
    if (s.epochs[i] !== epoch) {
      s.data.fill(0, o, o + this.width);
      s.epochs[i] = epoch;
    }
    return o;
  }

  /** The series summed over the slots still in the window. */
  read(s: RecentSeries | undefined): RecentTotals {
    const now = this.now();
    const epoch = Math.floor(now / this.slotMs);
    const first = epoch - this.slots + 1;
    const span = Math.max(0.001, (now - Math.max(first * this.slotMs, this.started)) / 1000);
    const t = [0, 0, 0, 0, 0];
    const h = this.scratch.fill(0);
    let min = Infinity;
    let max = -Infinity;
    if (s) {
      for (let i = 0; i < this.slots; i++) {
        const e = s.epochs[i]!;
        if (e < first || e > epoch) continue;
        const o = i * this.width;
        for (let f = 0; f < SUMMED; f++) t[f]! += s.data[o + f]!;
        if (s.data[o + QUANTILED]! > 0) {
          min = Math.min(min, s.data[o + MIN]!);
          max = Math.max(max, s.data[o + MAX]!);
        }
        for (let k = 0; k < h.length; k++) h[k]! += s.data[o + FIELDS + k]!;
      }
    }
    const within = (q: number): number => (q < min ? min : q > max ? max : q);
    return { requests: t[REQUESTS]!, errors: t[ERRORS]!, empty: t[EMPTY]!, timed: t[TIMED]!, seconds: t[SECONDS]!, p50: within(this.quantile(h, 0.5)), p95: within(this.quantile(h, 0.95)), span };
  }

  /** Interpolated in the bucket the quantile falls in (past the last bucket: the last bound). */
  private quantile(h: Float64Array, q: number): number {
    let n = 0;
    for (let k = 0; k < h.length; k++) n += h[k]!;
    if (n === 0) return NaN;
    const target = q * n;
    const b = this.buckets;
    let acc = 0;
    for (let k = 0; k < b.length; k++) {
      const before = acc;
      acc += h[k]!;
      if (acc >= target && h[k]! > 0) {
        const lo = k === 0 ? 0 : b[k - 1]!;
        return lo + ((b[k]! - lo) * (target - before)) / h[k]!;
      }
    }
    return b[b.length - 1]!;
  }
}
