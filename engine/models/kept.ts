/**
 * Work over a set of shared candidates (FrameItems.sharedRows), kept between
 * requests: keyed on the shared rows array (the same object for every request
 * over those candidates), least recently used dropped past a byte cap.
 */
/**
 * The byte cap of each such cache: the candidate memo's budget (AIRMAIL_MEMO_MB,
 * default 64), since it keeps work over the memo's candidate sets. One cache per
 * model input layout and thread.
 */
export function keptBudget(): number {
  const mb = Number(process.env['AIRMAIL_MEMO_MB'] ?? 64);
  return mb > 0 ? mb * 2 ** 20 : 0;
}

export class KeptForSharedRows<V extends { readonly byteLength: number }> {
  private readonly entries = new Map<Int32Array, V>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The value kept for `rows`, or `make()`'s, kept (undefined: nothing kept). */
  get(rows: Int32Array, make: () => V | undefined): V | undefined {
    const hit = this.entries.get(rows);
    if (hit) {
      this.entries.delete(rows);
      this.entries.set(rows, hit);
      return hit;
    }
    const v = make();
    if (!v) return undefined;
    this.entries.set(rows, v);
    this.bytes += v.byteLength;
    for (const [k, x] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= x.byteLength;
    }
    return v;
  }
}
