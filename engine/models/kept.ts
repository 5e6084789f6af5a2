/**
 * Work over a set of shared candidates (FrameItems.sharedRows), kept between
 * requests: keyed on the shared rows array (the same object for every request
 * over those candidates). Every such cache of a thread (one per model input
 * layout: tree pair codes, gathered MLP inputs) draws on one byte budget, and
 * the least recently used entry of any of them goes first, so the memory
 * kept does not grow with the number of models loaded. The budget is the
 * candidate memo's (memoBudgetBytes: AIRMAIL_MEMO_MB), since this is work
 * over the memo's candidate sets.
 */
import { memoBudgetBytes } from '../memo.js';

interface Entry {
  readonly owner: Map<Int32Array, Entry>;
  readonly rows: Int32Array;
  readonly value: { readonly byteLength: number };
}

/** The thread's kept entries, least recently used first, and their bytes. */
class KeptLedger {
  readonly order = new Set<Entry>();
  bytes = 0;
  constructor(readonly maxBytes: number) {}

  touch(e: Entry): void {
    this.order.delete(e);
    this.order.add(e);
  }

  add(e: Entry): void {
    this.order.add(e);
    this.bytes += e.value.byteLength;
    for (const old of this.order) {
      if (this.bytes <= this.maxBytes) break;
      this.order.delete(old);
      old.owner.delete(old.rows);
      this.bytes -= old.value.byteLength;
    }
  }
}

let threadLedger: KeptLedger | undefined;

export class KeptForSharedRows<V extends { readonly byteLength: number }> {
  private readonly entries = new Map<Int32Array, Entry>();
  private readonly ledger: KeptLedger;

  /** `maxBytes`: a budget of this cache's own (tests); by default the thread's shared one. */
  constructor(maxBytes?: number) {
    this.ledger = maxBytes === undefined ? (threadLedger ??= new KeptLedger(memoBudgetBytes())) : new KeptLedger(maxBytes);
  }

  /** The value kept for `rows`, or `make()`'s, kept (undefined: nothing kept). */
  get(rows: Int32Array, make: () => V | undefined): V | undefined {
    const hit = this.entries.get(rows);
    if (hit) {
      this.ledger.touch(hit);
      return hit.value as V;
    }
    const v = make();
    if (!v) return undefined;
    if (v.byteLength > this.ledger.maxBytes) return v;
    const e: Entry = { owner: this.entries, rows, value: v };
    this.entries.set(rows, e);
    this.ledger.add(e);
    return v;
  }

  /** Entries kept now (tests). */
  get size(): number {
    return this.entries.size;
  }
}
