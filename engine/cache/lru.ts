/**
 * In-process LRU bounded by entry count and/or bytes. A Map keeps insertion
 * order, so "touch" is delete + set and the oldest entry is the first key: no
 * linked list, O(1) per operation, and V8 keeps Maps fast at this size.
 *
 * Entries carry two deadlines: `freshUntil` (serve as is) and `staleUntil`
 * (serve while one refresh runs). Past `staleUntil` an entry is gone.
 */

export interface LruEntry<V> {
  readonly value: V;
  /** Epoch ms until which the value is fresh. */
  readonly freshUntil: number;
  /** Epoch ms until which the value may be served stale; >= freshUntil. */
  readonly staleUntil: number;
  /** Accounted size in bytes (0 when no byte bound is set). */
  readonly size: number;
}

export interface LruOptions {
  /** Most entries kept; default 10,000. */
  readonly maxEntries?: number;
  /** Most accounted bytes kept; default unbounded. */
  readonly maxBytes?: number;
}

export interface LruStats {
  readonly entries: number;
  readonly bytes: number;
  readonly evictions: number;
}

export class Lru<V> {
  readonly #map = new Map<string, LruEntry<V>>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #bytes = 0;
  #evictions = 0;

  constructor(opts: LruOptions = {}) {
    this.#maxEntries = opts.maxEntries ?? 10_000;
    this.#maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    if (!(this.#maxEntries >= 1)) throw new RangeError(`maxEntries must be >= 1, got ${this.#maxEntries}`);
    if (!(this.#maxBytes > 0)) throw new RangeError(`maxBytes must be > 0, got ${this.#maxBytes}`);
  }

  get size(): number {
    return this.#map.size;
  }

  /** The live entry for key (fresh or stale), marked most recently used; undefined when absent or past staleUntil. */
  get(key: string, now: number = Date.now()): LruEntry<V> | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (now >= entry.staleUntil) {
      this.#remove(key, entry);
      return undefined;
    }
    this.#map.delete(key);
    this.#map.set(key, entry);
    return entry;
  }

  /** Like get, without touching recency. */
  peek(key: string, now: number = Date.now()): LruEntry<V> | undefined {
    const entry = this.#map.get(key);
    return entry !== undefined && now < entry.staleUntil ? entry : undefined;
  }

  /** Insert or replace. An entry bigger than maxBytes is not stored (it would evict everything). */
  set(key: string, value: V, freshUntil: number, staleUntil: number, size = 0): void {
    const old = this.#map.get(key);
    if (old !== undefined) this.#remove(key, old);
    if (size > this.#maxBytes) return;
    this.#map.set(key, { value, freshUntil, staleUntil: Math.max(freshUntil, staleUntil), size });
    this.#bytes += size;
    this.#evict();
  }

  delete(key: string): boolean {
    const entry = this.#map.get(key);
    if (entry === undefined) return false;
    this.#remove(key, entry);
    return true;
  }

  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }

  stats(): LruStats {
    return { entries: this.#map.size, bytes: this.#bytes, evictions: this.#evictions };
  }

  #remove(key: string, entry: LruEntry<V>): void {
    this.#map.delete(key);
    this.#bytes -= entry.size;
  }

  #evict(): void {
    while (this.#map.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const oldest = this.#map.keys().next();
      if (oldest.done) return;
      const entry = this.#map.get(oldest.value);
      if (entry !== undefined) this.#remove(oldest.value, entry);
      this.#evictions++;
    }
  }
}

/**
 * Rough byte size of a value for the byte bound: exact for binary data and
 * strings, an estimate for plain arrays/objects (looks two levels deep so the
 * hot path never walks a big structure).
 */
export function estimateSize(value: unknown, depth = 0): number {
  if (value === null || value === undefined) return 8;
  switch (typeof value) {
    case 'string':
      return 16 + value.length * 2;
    case 'number':
    case 'boolean':
    case 'bigint':
      return 8;
    case 'object': {
      if (ArrayBuffer.isView(value)) return value.byteLength;
      if (value instanceof ArrayBuffer) return value.byteLength;
      if (depth >= 2) return 64;
      if (Array.isArray(value)) {
        const n = value.length;
        if (n === 0) return 16;
        // Sample up to 8 elements and extrapolate.
        const step = Math.max(1, Math.floor(n / 8));
        let sum = 0;
        let seen = 0;
        for (let i = 0; i < n; i += step) {
          sum += estimateSize(value[i], depth + 1);
          seen++;
        }
        return 16 + Math.ceil((sum / seen) * n);
      }
      let sum = 16;
      for (const [k, v] of Object.entries(value)) sum += 16 + k.length * 2 + estimateSize(v, depth + 1);
      return sum;
    }
    default:
      return 64;
  }
}
