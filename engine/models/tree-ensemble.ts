/**
 * Tree ensembles (ONNX ai.onnx.ml TreeEnsembleRegressor, optionally followed
 * by Sigmoid) scored against an items dataset, faster than a generic runtime
 * can: most features of a recommendation model are columns of the item (the
 * same every request) and the rest are the same for every row of a request
 * (the client's). So, per tree:
 *
 * - every leaf gets a bit; the decisions taken at nodes that test item
 *   features leave a set of consistent leaves (the item mask), computed once
 *   per item row and kept as a small code;
 * - the decisions at nodes that test per-request constants leave another set
 *   (the request mask), computed once per request;
 * - the leaf reached is the single leaf in both sets, so one request turns
 *   each tree into a lookup table from item code to leaf value.
 *
 * Scoring a row is then one table lookup per tree. The result equals the
 * ensemble's (same float32 comparisons, same leaves); summation is in float64.
 */
import type { Dataset } from '../api.js';
import { numericColumns } from './item-matrix.js';
import { KeptForSharedRows, keptBudget } from './kept.js';
import type { AttrValue, OnnxGraph } from './onnx-graph.js';

type Mode = 0 | 1 | 2 | 3 | 4 | 5; // LEQ LT GTE GT EQ NEQ
const MODES: Record<string, Mode> = { BRANCH_LEQ: 0, BRANCH_LT: 1, BRANCH_GTE: 2, BRANCH_GT: 3, BRANCH_EQ: 4, BRANCH_NEQ: 5 };

interface Tree {
  /** Internal nodes, in index order. */
  readonly feature: Int32Array;
  readonly threshold: Float32Array;
  readonly mode: Uint8Array;
  readonly missingTrue: Uint8Array;
  /** Leaves under the true / false child of each internal node. */
  readonly reachTrue: Uint32Array;
  readonly reachFalse: Uint32Array;
  /** Value of leaf bit b. */
  readonly leafValue: Float64Array;
  readonly allLeaves: number;
}

export interface TreeEnsembleSpec {
  readonly trees: readonly Tree[];
  readonly featureCount: number;
  readonly base: number;
  readonly average: boolean;
  /** Apply 1 / (1 + e^-x) at the end (post_transform LOGISTIC, or a Sigmoid node after the ensemble). */
  readonly logistic: boolean;
}

function decide(x: number, mode: number, th: number, missingTrue: number): boolean {
  if (Number.isNaN(x)) return missingTrue === 1;
  switch (mode) {
    case 0: return x <= th;
    case 1: return x < th;
    case 2: return x >= th;
    case 3: return x > th;
    case 4: return x === th;
    default: return x !== th;
  }
}

function ints(v: AttrValue | undefined): readonly number[] {
  return Array.isArray(v) ? (v as number[]) : typeof v === 'number' ? [v] : [];
}

/**
 * Recognise a model that is one TreeEnsembleRegressor (one target, at most 32
 * leaves per tree, SUM or AVERAGE) on the graph input, optionally followed by
 * a Sigmoid. Anything else: undefined (the generic runtime runs it).
 */
export function treeEnsembleOf(graph: OnnxGraph, featureCount: number): TreeEnsembleSpec | undefined {
  if (graph.inputs.length !== 1 || graph.outputs.length < 1 || featureCount <= 0) return undefined;
  const nodes = graph.nodes.filter((n) => n.opType !== 'Identity');
  const te = nodes[0];
  if (!te || te.opType !== 'TreeEnsembleRegressor' || te.domain !== 'ai.onnx.ml' || te.inputs[0] !== graph.inputs[0]) return undefined;
  let logistic = false;
  if (nodes.length === 2) {
    const s = nodes[1]!;
    if (s.opType !== 'Sigmoid' || s.inputs[0] !== te.outputs[0] || s.outputs[0] !== graph.outputs[0]) return undefined;
    logistic = true;
  } else if (nodes.length !== 1 || te.outputs[0] !== graph.outputs[0]) return undefined;
  const a = te.attrs;
  if (a.has('nodes_values_as_tensor') || a.has('target_weights_as_tensor') || a.has('base_values_as_tensor')) return undefined;
  if ((a.get('n_targets') ?? 1) !== 1) return undefined;
  const post = (a.get('post_transform') as string | undefined) ?? 'NONE';
  if (post === 'LOGISTIC') {
    if (logistic) return undefined;
    logistic = true;
  } else if (post !== 'NONE') return undefined;
  const agg = (a.get('aggregate_function') as string | undefined) ?? 'SUM';
  if (agg !== 'SUM' && agg !== 'AVERAGE') return undefined;

  const treeIds = ints(a.get('nodes_treeids'));
  const nodeIds = ints(a.get('nodes_nodeids'));
  const featureIds = ints(a.get('nodes_featureids'));
  const values = ints(a.get('nodes_values'));
  const modes = (a.get('nodes_modes') ?? []) as readonly string[];
  const trueIds = ints(a.get('nodes_truenodeids'));
  const falseIds = ints(a.get('nodes_falsenodeids'));
  const missing = ints(a.get('nodes_missing_value_tracks_true'));
  const n = treeIds.length;
  if ([nodeIds, featureIds, values, modes, trueIds, falseIds].some((x) => x.length !== n) || n === 0) return undefined;
  const tTree = ints(a.get('target_treeids'));
  const tNode = ints(a.get('target_nodeids'));
  const tId = ints(a.get('target_ids'));
  const tW = ints(a.get('target_weights'));
  if ([tNode, tId, tW].some((x) => x.length !== tTree.length)) return undefined;
  const base = ints(a.get('base_values'))[0] ?? 0;

  // Group nodes by tree; index by node id.
  const byTree = new Map<number, Map<number, number>>();
  for (let i = 0; i < n; i++) {
    let m = byTree.get(treeIds[i]!);
    if (!m) byTree.set(treeIds[i]!, (m = new Map()));
    m.set(nodeIds[i]!, i);
  }
  const weight = new Map<string, number>();
  for (let i = 0; i < tTree.length; i++) {
    if (tId[i] !== 0) return undefined;
    const k = `${tTree[i]}:${tNode[i]}`;
    weight.set(k, (weight.get(k) ?? 0) + tW[i]!);
  }

  const trees: Tree[] = [];
  for (const [tid, idx] of byTree) {
    // Root: the node no other node points to.
    const pointed = new Set<number>();
    for (const i of idx.values()) if (modes[i] !== 'LEAF') pointed.add(trueIds[i]!).add(falseIds[i]!);
    const roots = [...idx.keys()].filter((id) => !pointed.has(id));
    if (roots.length !== 1) return undefined;
    const internal: number[] = [];
    const leaves: number[] = [];
    const order: number[] = [];
    const stack = [roots[0]!];
    const seen = new Set<number>();
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id)) return undefined;
      seen.add(id);
      const i = idx.get(id);
      if (i === undefined) return undefined;
      order.push(id);
      if (modes[i] === 'LEAF') leaves.push(id);
      else {
        if (MODES[modes[i]!] === undefined) return undefined;
        internal.push(id);
        stack.push(falseIds[i]!, trueIds[i]!);
      }
    }
    if (leaves.length > 32) return undefined;
    const leafBit = new Map(leaves.map((id, b) => [id, b]));
    const reach = new Map<number, number>();
    const reachOf = (id: number): number => {
      const r = reach.get(id);
      if (r !== undefined) return r;
      const i = idx.get(id)!;
      const v = modes[i] === 'LEAF' ? (1 << leafBit.get(id)!) >>> 0 : (reachOf(trueIds[i]!) | reachOf(falseIds[i]!)) >>> 0;
      reach.set(id, v);
      return v;
    };
    const m = internal.length;
    const t: Tree = {
      feature: new Int32Array(m),
      threshold: new Float32Array(m),
      mode: new Uint8Array(m),
      missingTrue: new Uint8Array(m),
      reachTrue: new Uint32Array(m),
      reachFalse: new Uint32Array(m),
      leafValue: new Float64Array(leaves.length),
      allLeaves: leaves.length === 32 ? 0xffffffff : ((1 << leaves.length) >>> 0) - 1,
    };
    internal.forEach((id, k) => {
      const i = idx.get(id)!;
      if (featureIds[i]! < 0 || featureIds[i]! >= featureCount) throw new RangeError('feature id out of range');
      t.feature[k] = featureIds[i]!;
      t.threshold[k] = values[i]!;
      t.mode[k] = MODES[modes[i]!]!;
      t.missingTrue[k] = missing[i] ?? 0;
      t.reachTrue[k] = reachOf(trueIds[i]!);
      t.reachFalse[k] = reachOf(falseIds[i]!);
    });
    leaves.forEach((id, b) => {
      t.leafValue[b] = weight.get(`${tid}:${id}`) ?? 0;
    });
    trees.push(t);
  }
  return { trees, featureCount, base, average: agg === 'AVERAGE', logistic };
}

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
  private readonly kept = new KeptForSharedRows<Uint16Array>(keptBudget());
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

/** Finishes raw sums into model outputs: base value, average, logistic. */
export function finishScores(spec: TreeEnsembleSpec, raw: Float64Array): Float32Array {
  const out = new Float32Array(raw.length);
  const n = spec.trees.length;
  for (let k = 0; k < raw.length; k++) {
    let v = spec.average ? raw[k]! / n : raw[k]!;
    v += spec.base;
    out[k] = spec.logistic ? 1 / (1 + Math.exp(-v)) : v;
  }
  return out;
}
