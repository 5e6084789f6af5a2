/**
 * Memoised candidates. A plan whose includes and pre-scoring steps are all
 * pure (same parameters and datasets → same result) produces the same
 * candidate rows for the same bound parameters, and those usually depend on
 * a context row only (the client's warehouse and size, the product's
 * department), not on the request. So the executor keeps, per thread, the
 * candidates after the pre-scoring steps — compacted to the surviving rows —
 * under the bound parameters, and per request only subtracts the excludes.
 * Row-wise steps decide each row alone, so subtracting after them gives the
 * rows the literal order gives.
 */
import type { Column, SourceResult } from './api.js';
import { isNumeric, valueAt } from './api.js';
import type { Plan } from './config/plan.js';
import { WorkFrame } from './frame.js';
import { Doorkeeper } from './memo-admission.js';

export interface MemoEntry {
  /** The candidates after the pre-scoring steps, one frame row per surviving row, in order. */
  readonly frame: WorkFrame;
  /** Frame row of each item id, built on the first request that has excludes to subtract. */
  rowOf?: Map<unknown, number>;
  readonly bytes: number;
  /** performance.now() after which the entry is not used (plans with cached remote steps). */
  readonly expires: number;
}

function columnBytes(c: Column): number {
  if ('byteLength' in c) return c.byteLength;
  return c.kind === 'dict' ? c.codes.byteLength : c.values.length * 16;
}

/**
 * A byte-bounded LRU of candidate frames, shared by every plan on this thread. Once full, a new key
 * is kept only on its second sighting (memo-admission.ts), so one-off keys do not evict shared ones.
 */
export class CandidateMemo {
  private readonly entries = new Map<string, MemoEntry>();
  private readonly door = new Doorkeeper();
  private bytes = 0;
  hits = 0;
  misses = 0;
  /** Entries not kept because the memo was full and their key was new (seen once). */
  refused = 0;

  constructor(private readonly maxBytes: number) {}

  get(plan: Plan, key: string): MemoEntry | undefined {
    const k = `${plan.version}\u0000${key}`;
    const e = this.entries.get(k);
    if (e && e.expires < performance.now()) {
      this.entries.delete(k);
      this.bytes -= e.bytes;
    } else if (e) {
      this.hits++;
      this.entries.delete(k);
      this.entries.set(k, e);
      return e;
    }
    this.misses++;
    return undefined;
  }

  /**
   * Keeps the live `rows` of `frame`, compacted, and returns the entry. `freshUntil` (epoch ms): when
   * the oldest remote answer it was built from stops being fresh; an entry built from a stale answer
   * is not kept, so the refreshed answer is used as soon as it lands.
   */
  put(plan: Plan, key: string, frame: WorkFrame, rows: Int32Array, freshUntil = Infinity): MemoEntry {
    const compact = frame.compact(rows);
    let bytes = 256 + key.length * 2;
    for (const name of compact.columnNames) bytes += columnBytes(compact.column(name));
    bytes += compact.length * 48; // the id index (rowOf), built on the first request with excludes
    const now = performance.now();
    const left = freshUntil - Date.now();
    const expires = Math.min(plan.memoTtlMs === undefined ? Infinity : now + plan.memoTtlMs, now + left);
    const e: MemoEntry = { frame: compact, bytes, expires };
    if (bytes > this.maxBytes / 4 || left <= 0) return e;
    const k = `${plan.version}\u0000${key}`;
    const old = this.entries.get(k);
    const again = this.door.sighted(k);
    if (!old && !again && this.bytes + bytes > this.maxBytes) {
      this.refused++;
      return e;
    }
    if (old) this.bytes -= old.bytes;
    this.entries.set(k, e);
    this.bytes += bytes;
    for (const [victim, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(victim);
      this.bytes -= v.bytes;
    }
    return e;
  }

  get size(): number {
    return this.entries.size;
  }
}

const DEFAULT_MB = 64;
let shared: CandidateMemo | undefined;

/** AIRMAIL_MEMO_MB in bytes (default 64 MB; 0, or anything not a positive number, turns memoisation off). */
export function memoBudgetBytes(): number {
  const mb = Number(process.env['AIRMAIL_MEMO_MB'] ?? DEFAULT_MB);
  return mb > 0 ? mb * 2 ** 20 : 0;
}

/** This thread's memo (memoBudgetBytes(); none when that is 0). */
export function threadMemo(): CandidateMemo | undefined {
  if (shared) return shared;
  const bytes = memoBudgetBytes();
  if (bytes === 0) return undefined;
  shared = new CandidateMemo(bytes);
  return shared;
}

/** The memo key of a request: the referenced values ($inputs, $context columns) of the memoised steps. */
export function memoKey(bound: readonly unknown[]): string {
  return JSON.stringify(bound);
}

/**
 * The entry's rows minus the excluded ids, over a frame that shares the entry's
 * columns. Excludes are few (a client's past purchases) and candidates many, so
 * each excluded id is looked up in the entry's id index rather than each
 * candidate in a set of the excluded.
 */
export function subtractExcludes(entry: MemoEntry, key: string, excludes: readonly SourceResult[]): { frame: WorkFrame; rows: Int32Array } {
  const frame = entry.frame.share();
  const n = frame.length;
  let drop: Uint8Array | undefined;
  let dropped = 0;
  // Ids of the key's own type need no second lookup: execute converts source ids to the items
  // dataset's key type, so only a pipeline without one can send the other spelling (2 and "2").
  const numericKey = isNumeric(frame.column(key));
  for (const r of excludes) {
    if (r.ids.length === 0) continue;
    const rowOf = (entry.rowOf ??= indexIds(frame.column(key), n));
    drop ??= new Uint8Array(n);
    for (let i = 0; i < r.ids.length; i++) {
      const id = r.ids[i]!;
      const at = rowOf.get(id) ?? ((typeof id === 'number') === numericKey ? undefined : otherForm(rowOf, id));
      if (at !== undefined && drop[at] === 0) {
        drop[at] = 1;
        dropped++;
      }
    }
  }
  const rows = new Int32Array(n - dropped);
  if (!drop || dropped === 0) {
    for (let i = 0; i < n; i++) rows[i] = i;
  } else {
    for (let i = 0, m = 0; i < n; i++) if (drop[i] === 0) rows[m++] = i;
  }
  return { frame, rows };
}

/** An id of the other type that is the same item as in execute's unionMinus (2 and "2": one item). */
function otherForm(rowOf: Map<unknown, number>, id: string | number): number | undefined {
  if (typeof id === 'number') return rowOf.get(String(id));
  const n = Number(id);
  return String(n) === id ? rowOf.get(n) : undefined;
}

/** Id → row (the first row of an id, as a set of excluded ids would drop them all: ids are unique in candidates). */
function indexIds(ids: Column, n: number): Map<unknown, number> {
  const m = new Map<unknown, number>();
  for (let i = 0; i < n; i++) {
    const id = valueAt(ids, i);
    if (!m.has(id)) m.set(id, i);
  }
  return m;
}
