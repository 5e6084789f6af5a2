/**
 * A log-linear histogram in the style of HdrHistogram: values are non-negative
 * integers (the generator records microseconds); each power-of-two range is cut
 * into SUB_BUCKETS linear buckets, so a bucket is never wider than 1/SUB_BUCKETS
 * of the values it holds (≤ 0.8 % relative error; reported as the bucket middle,
 * ≤ 0.4 %). Values below 2·SUB_BUCKETS are exact. Memory is fixed (~27 KiB) and
 * recording is O(1), so it can sit on the hot path of the load generator.
 */

const SUB_BITS = 7;
const SUB_BUCKETS = 1 << SUB_BITS; // 128
/** Largest value kept exactly in range; larger ones are clamped (2^32 µs ≈ 71 min). */
export const HISTOGRAM_MAX_VALUE = 2 ** 32 - 1;
const BUCKET_COUNT = (32 - SUB_BITS + 1) * SUB_BUCKETS;

function indexOf(value: number): number {
  // 31 - clz32 = position of the highest set bit; values < 2·SUB_BUCKETS get shift 0.
  const shift = Math.max(0, 31 - Math.clz32(value) - SUB_BITS);
  return shift * SUB_BUCKETS + (value >>> shift);
}

function lowerBound(index: number): number {
  if (index < 2 * SUB_BUCKETS) return index;
  const shift = Math.floor(index / SUB_BUCKETS) - 1;
  return (index - shift * SUB_BUCKETS) * 2 ** shift;
}

function width(index: number): number {
  return index < 2 * SUB_BUCKETS ? 1 : 2 ** (Math.floor(index / SUB_BUCKETS) - 1);
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKET_COUNT);
  private total = 0;
  private sum = 0;
  private minValue = Number.POSITIVE_INFINITY;
  private maxValue = 0;

  /** Records `value` (rounded to an integer, clamped to [0, HISTOGRAM_MAX_VALUE]) `count` times. */
  record(value: number, count = 1): void {
    const v = Math.min(HISTOGRAM_MAX_VALUE, Math.max(0, Math.round(value)));
    this.counts[indexOf(v)]! += count;
    this.total += count;
    this.sum += v * count;
    if (v < this.minValue) this.minValue = v;
    if (v > this.maxValue) this.maxValue = v;
  }

  get count(): number {
    return this.total;
  }

  get min(): number {
    return this.total === 0 ? 0 : this.minValue;
  }

  get max(): number {
    return this.maxValue;
  }

  get mean(): number {
    return this.total === 0 ? 0 : this.sum / this.total;
  }

  /**
   * The nearest-rank percentile (p in [0, 100]): the value of the ⌈p/100·n⌉-th
   * smallest sample, to bucket precision, clamped to the exact min and max.
   */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    if (p >= 100) return this.maxValue;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const mid = lowerBound(i) + (width(i) - 1) / 2;
        return Math.min(this.maxValue, Math.max(this.minValue, mid));
      }
    }
    return this.maxValue;
  }

  /** Adds all samples of `other` into this histogram. */
  merge(other: Histogram): void {
    for (let i = 0; i < BUCKET_COUNT; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
    this.sum += other.sum;
    if (other.total > 0) {
      this.minValue = Math.min(this.minValue, other.minValue);
      this.maxValue = Math.max(this.maxValue, other.maxValue);
    }
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sum = 0;
    this.minValue = Number.POSITIVE_INFINITY;
    this.maxValue = 0;
  }
}
