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
 * Scoring a row is then one table lookup per tree (per pair of trees, see
 * tree-index.ts, which holds the per-item half). The result equals the
 * ensemble's (same float32 comparisons, same leaves); summation is in float64.
 */
import type { AttrValue, OnnxGraph } from './onnx-graph.js';

type Mode = 0 | 1 | 2 | 3 | 4 | 5; // LEQ LT GTE GT EQ NEQ
const MODES: Record<string, Mode> = { BRANCH_LEQ: 0, BRANCH_LT: 1, BRANCH_GTE: 2, BRANCH_GT: 3, BRANCH_EQ: 4, BRANCH_NEQ: 5 };

export interface Tree {
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

/** One node's decision for value x (NaN: the missing-value side). */
export function decide(x: number, mode: number, th: number, missingTrue: number): boolean {
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
