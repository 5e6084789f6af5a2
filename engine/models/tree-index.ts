/**
 * The per-item half of the tree-ensemble scheme (see tree-ensemble.ts): item
 * masks worked out once per item row, kept as codes per pair of trees, and
 * the per-request tables that turn codes into leaf sums.
 */
import type { Dataset } from '../api.js';
import { numericColumns } from './item-matrix.js';
import { KeptForSharedRows } from './kept.js';
import { decide, type TreeEnsembleSpec } from './tree-ensemble.js';

function lowestBit(x: number): number {
  return 31 - Math.clz32(x & -x);
}


/**
 * The per-item half of the scheme for one (dataset, feature layout). Trees go
 * in pairs: each row keeps, per pair, one code for the pair of its item masks
 * (an index into `pairA`/`pairB`, which name the two masks in one flat table,
 * `masks`). A request turns each mask into a leaf value and each pair code
 * into the sum of its two, so scoring a row is one lookup per pair of trees,
 * half the lookups and half the table one per tree would take: the pairs that
 * occur are few (about 15,000 over 60 pairs of the standard GBDT's trees on
 * 50,000 items, against 3,000 single masks). A request's rows not seen before
 * are worked out together, column by column (one pass per item node over
 * them), so a cold worker pays for the rows its requests touch, never for the
 * whole catalog.
 */
export class ItemTreeIndex {
  private readonly T: number;
  /** Pairs of trees: trees 2p and 2p + 1 (the last alone when T is odd). */
  private readonly P: number;
  /** slots[row * P + p]: the row's code for pair p (an index into pairA / pairB). */
  private readonly slots: Uint16Array;
  private readonly filled: Uint8Array;
  /** Distinct item masks of every tree (the first `maskCount`); owner[i] is the tree of masks[i]. */
  private readonly masks = new Int32Array(MAX_SLOTS);
  private readonly owner = new Int32Array(MAX_SLOTS);
  private maskCount = 0;
  private readonly slotOf: MaskSlots[];
  /** Per pair code (the first `pairCount`): the masks of its two trees (pairB -1 for a tree alone). */
  private readonly pairA = new Int32Array(MAX_SLOTS);
  private readonly pairB = new Int32Array(MAX_SLOTS);
  private pairCount = 0;
  private readonly pairOf: MaskSlots[];
  /** Leaf values of every tree in one table; tree t's start at leafAt[t]. */
  private readonly leafValues: Float64Array;
  private readonly leafAt: Int32Array;
  /** Per-request tables, kept between requests (score runs to the end without yielding). */
  private single = new Float64Array(0);
  private lut = new Float64Array(0);
  /** scoreShared's pair codes of shared candidates. */
  private readonly kept = new KeptForSharedRows<Uint16Array>();
  /** Per tree: the internal nodes that test an item column, and those that test a per-request constant. */
  private readonly itemNodes: Int32Array[];
  private readonly constNodes: Int32Array[];
  /** Set when the masks outgrow the flat table: the caller falls back to the runtime. */
  overflow = false;

  private constructor(private readonly spec: TreeEnsembleSpec, private readonly cols: readonly (ArrayLike<number> | null)[], private readonly rows: number) {
    this.T = spec.trees.length;
    this.P = Math.ceil(this.T / 2);
    this.slots = new Uint16Array(rows * this.P);
    this.filled = new Uint8Array(rows);
    this.slotOf = spec.trees.map(() => new MaskSlots());
    this.pairOf = Array.from({ length: this.P }, () => new MaskSlots());
    this.itemNodes = spec.trees.map((t) => Int32Array.from([...t.feature.keys()].filter((k) => cols[t.feature[k]!] !== null)));
    this.constNodes = spec.trees.map((t) => Int32Array.from([...t.feature.keys()].filter((k) => cols[t.feature[k]!] === null)));
    this.leafAt = new Int32Array(this.T);
    let at = 0;
    spec.trees.forEach((t, i) => {
      this.leafAt[i] = at;
      at += t.leafValue.length;
    });
    this.leafValues = new Float64Array(at);
    spec.trees.forEach((t, i) => this.leafValues.set(t.leafValue, this.leafAt[i]));
  }

  /** Undefined when a layout column is not numeric. */
  static build(spec: TreeEnsembleSpec, dataset: Dataset, columns: readonly (string | null)[]): ItemTreeIndex | undefined {
    const cols = numericColumns(dataset, columns);
    return cols && new ItemTreeIndex(spec, cols, dataset.length);
  }

  /** The mask index of each of `rows` in tree t (into `single`); false on overflow. */
  private treeMasks(t: number, rows: Int32Array, mask: Int32Array, single: Int32Array): boolean {
    const tree = this.spec.trees[t]!;
    mask.fill(tree.allLeaves | 0);
    const nodes = this.itemNodes[t]!;
    for (let i = 0; i < nodes.length; i++) {
      const k = nodes[i]!;
      andDecisions(mask, this.cols[tree.feature[k]!]!, rows, tree.mode[k]!, tree.threshold[k]!, tree.missingTrue[k]! === 1, ~tree.reachFalse[k]!, ~tree.reachTrue[k]!);
    }
    const slotOf = this.slotOf[t]!;
    for (let j = 0; j < rows.length; j++) {
      const m = mask[j]!;
      let slot = slotOf.get(m);
      if (slot < 0) {
        slot = this.maskCount;
        if (slot >= MAX_SLOTS) return false;
        this.masks[slot] = m;
        this.owner[slot] = t;
        this.maskCount++;
        slotOf.set(m, slot);
      }
      single[j] = slot;
    }
    return true;
  }

  /** Works out the pair codes of `rows`, a pair of trees at a time, one pass per item node. */
  private fillRows(rows: Int32Array): boolean {
    const { T, P } = this;
    const n = rows.length;
    const mask = new Int32Array(n);
    const a = new Int32Array(n);
    const b = new Int32Array(n);
    for (let p = 0; p < P; p++) {
      if (2 * p + 1 >= T) b.fill(-1);
      if (!this.treeMasks(2 * p, rows, mask, a) || (2 * p + 1 < T && !this.treeMasks(2 * p + 1, rows, mask, b))) {
        this.overflow = true;
        return false;
      }
      const pairOf = this.pairOf[p]!;
      for (let j = 0; j < n; j++) {
        const key = (a[j]! << 16) | (b[j]! & 0xffff);
        let code = pairOf.get(key);
        if (code < 0) {
          code = this.pairCount;
          if (code >= MAX_SLOTS) {
            this.overflow = true;
            return false;
          }
          this.pairA[code] = a[j]!;
          this.pairB[code] = b[j]!;
          this.pairCount++;
          pairOf.set(key, code);
        }
        this.slots[rows[j]! * P + p] = code;
      }
    }
    return true;
  }

  /** Raw ensemble sums (before base, average and logistic) of the given dataset rows; false on overflow. */
  score(rows: Int32Array, constants: ArrayLike<number>, out: Float64Array): boolean {
    if (!this.fill(rows)) return false;
    sumRows(rows, this.slots, this.requestTable(constants), out, this.P);
    return true;
  }

  /**
   * score() for rows of candidates shared by many requests (rows[k] =
   * base.rows[base.at[k]]): the pair codes of all the shared rows are copied
   * once into a table of their own and kept, so a request reads them in order
   * instead of from rows scattered over the whole dataset's table.
   */
  scoreShared(base: { readonly rows: Int32Array; readonly at: Int32Array }, constants: ArrayLike<number>, out: Float64Array): boolean {
    const P = this.P;
    const codes = this.kept.get(base.rows, () => {
      if (!this.fill(base.rows)) return undefined;
      const own = new Uint16Array(base.rows.length * P);
      const slots = this.slots;
      for (let k = 0, o = 0; k < base.rows.length; k++) for (let p = 0, at = base.rows[k]! * P; p < P; p++) own[o++] = slots[at + p]!;
      return own;
    });
    if (!codes) return false;
    sumRows(base.at, codes, this.requestTable(constants), out, P);
    return true;
  }

  /** Works out the rows not seen before; false on overflow. */
  private fill(rows: Int32Array): boolean {
    const filled = this.filled;
    let fresh = 0;
    for (let k = 0; k < rows.length; k++) if (filled[rows[k]!] === 0) fresh++;
    if (fresh > 0) {
      const todo = new Int32Array(fresh);
      for (let k = 0, i = 0; k < rows.length; k++) {
        const r = rows[k]!;
        if (filled[r] === 0) {
          filled[r] = 1;
          todo[i++] = r;
        }
      }
      if (!this.fillRows(todo)) return false;
    }
    return true;
  }

  /** This request's table from pair code to the sum of the pair's two leaf values. */
  private requestTable(constants: ArrayLike<number>): Float64Array {
    const T = this.T;
    const trees = this.spec.trees;
    // Per request: each tree becomes a table from item mask to leaf value, each pair of trees one from pair code to their sum.
    const req = new Int32Array(T);
    for (let t = 0; t < T; t++) {
      const tree = trees[t]!;
      const nodes = this.constNodes[t]!;
      let m = tree.allLeaves;
      for (let i = 0; i < nodes.length; i++) {
        const k = nodes[i]!;
        m &= decide(constants[tree.feature[k]!]!, tree.mode[k]!, tree.threshold[k]!, tree.missingTrue[k]!) ? ~tree.reachFalse[k]! : ~tree.reachTrue[k]!;
      }
      req[t] = m;
    }
    const { masks, owner, leafValues, leafAt } = this;
    if (this.single.length < this.maskCount) this.single = new Float64Array(MAX_SLOTS);
    const single = this.single;
    for (let i = 0, n = this.maskCount; i < n; i++) {
      const t = owner[i]!;
      const both = masks[i]! & req[t]!;
      single[i] = both === 0 ? NaN : leafValues[leafAt[t]! + lowestBit(both)]!;
    }
    const { pairA, pairB } = this;
    if (this.lut.length < this.pairCount) this.lut = new Float64Array(MAX_SLOTS);
    const lut = this.lut;
    for (let c = 0, n = this.pairCount; c < n; c++) {
      const b = pairB[c]!;
      lut[c] = single[pairA[c]!]! + (b >= 0 ? single[b]! : 0);
    }
    return lut;
  }
}

/**
 * mask[j] &= (decision of row rows[j] at one node) ? ifTrue : ifFalse, missing values going
 * to `missingTrue`'s side. Branch-free per row (random decisions would mispredict half the
 * time); one loop per comparison so each stays simple.
 */
function andDecisions(mask: Int32Array, col: ArrayLike<number>, rows: Int32Array, mode: number, th: number, missingTrue: boolean, ifTrue: number, ifFalse: number): void {
  const n = mask.length;
  const nanMask = missingTrue ? ifTrue : ifFalse;
  // d: the comparison held; nn: the value is missing (every comparison with NaN is false).
  const select = (d: number, nn: number): number => (ifTrue & -d) | (ifFalse & (d - 1) & (nn - 1)) | (nanMask & -nn);
  switch (mode) {
    case 0:
      for (let j = 0; j < n; j++) {
        const x = col[rows[j]!]!;
        mask[j]! &= select(+(x <= th), +(x !== x));
      }
      return;
    case 1:
      for (let j = 0; j < n; j++) {
        const x = col[rows[j]!]!;
        mask[j]! &= select(+(x < th), +(x !== x));
      }
      return;
    default:
      for (let j = 0; j < n; j++) {
        const x = col[rows[j]!]!;
        mask[j]! &= x !== x ? nanMask : decide(x, mode, th, 0) ? ifTrue : ifFalse;
      }
  }
}

/** out[k] = sum over pairs of lut[slots[rows[k] * T + t]]: the one loop every request runs (T pairs here). */
function sumRows(rows: Int32Array, slots: Uint16Array, lut: Float64Array, out: Float64Array, T: number): void {
  const T4 = T - (T % 4);
  for (let k = 0; k < rows.length; k++) {
    const base = rows[k]! * T;
    // Four independent sums: one long chain of dependent adds would bound the loop, not the loads.
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let t = 0;
    for (; t < T4; t += 4) {
      const at = base + t;
      s0 += lut[slots[at]!]!;
      s1 += lut[slots[at + 1]!]!;
      s2 += lut[slots[at + 2]!]!;
      s3 += lut[slots[at + 3]!]!;
    }
    for (; t < T; t++) s0 += lut[slots[base + t]!]!;
    out[k] = s0 + s1 + (s2 + s3);
  }
}

const MAX_SLOTS = 0xffff;

/** int32 mask → slot, open addressing in typed arrays (a Map would box masks past 2^30). */
class MaskSlots {
  private keys = new Int32Array(64);
  private vals = new Int32Array(64).fill(-1);
  private size = 0;

  get(m: number): number {
    const cap = this.keys.length - 1;
    for (let h = Math.imul(m, 0x9e3779b1) & cap; ; h = (h + 1) & cap) {
      const v = this.vals[h]!;
      if (v < 0 || this.keys[h] === m) return v;
    }
  }

  set(m: number, slot: number): void {
    if (++this.size * 2 > this.keys.length) this.grow();
    const cap = this.keys.length - 1;
    let h = Math.imul(m, 0x9e3779b1) & cap;
    while (this.vals[h]! >= 0) h = (h + 1) & cap;
    this.keys[h] = m;
    this.vals[h] = slot;
  }

  private grow(): void {
    const { keys, vals } = this;
    this.keys = new Int32Array(keys.length * 2);
    this.vals = new Int32Array(keys.length * 2).fill(-1);
    this.size = 0;
    for (let i = 0; i < keys.length; i++) if (vals[i]! >= 0) this.set(keys[i]!, vals[i]!);
  }
}
