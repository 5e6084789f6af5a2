/**
 * Admission to the candidate memo (memo.ts) once it is full: a doorkeeper. A key is admitted then
 * only on its second sighting within a window, so a step keyed by the request (an `Exclude` by
 * `$client_id` moved before the scorers, a Lookup include by `$client_id`) no longer fills the memo
 * with entries never used again, evicting the shared ones (each warehouse's inventory). While the
 * memo has room every key is admitted, as before.
 *
 * Sightings are kept in two generations of a Bloom filter (2 bits a key, 2^20 bits each, 256 KB in
 * all): a key counts as seen when either generation holds it; after WINDOW sightings the older
 * one is cleared and becomes the newer. A false positive (about 1 %) only admits a key early.
 */
const BITS = 1 << 20;
const MASK = BITS - 1;
/** Sightings per generation: a key seen twice within WINDOW to 2 × WINDOW misses is admitted. */
export const WINDOW = 1 << 16;

export class Doorkeeper {
  private newer = new Uint32Array(BITS >>> 5);
  private older = new Uint32Array(BITS >>> 5);
  private count = 0;

  /** Records a sighting of `key`; true when it was seen before within the window. */
  sighted(key: string): boolean {
    const h = fnv1a(key);
    const a = h & MASK;
    const b = (Math.imul(h, 0x9e3779b1) >>> 12) & MASK;
    const seen = (has(this.newer, a) && has(this.newer, b)) || (has(this.older, a) && has(this.older, b));
    set(this.newer, a);
    set(this.newer, b);
    if (++this.count >= WINDOW) {
      const cleared = this.older;
      cleared.fill(0);
      this.older = this.newer;
      this.newer = cleared;
      this.count = 0;
    }
    return seen;
  }
}

const has = (bits: Uint32Array, i: number): boolean => (bits[i >>> 5]! & (1 << (i & 31))) !== 0;
const set = (bits: Uint32Array, i: number): void => {
  bits[i >>> 5] = (bits[i >>> 5] ?? 0) | (1 << (i & 31));
};

/** 32-bit FNV-1a of the string's UTF-16 code units. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
