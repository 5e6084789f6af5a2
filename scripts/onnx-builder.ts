// Build small ONNX models from TypeScript, with no Python and nothing downloaded.
//
// The encoder (onnx-proto.ts) writes a hand-written subset of onnx/onnx.proto3 (field numbers checked against it):
// only the messages and fields these builders write. Encoding is deterministic: the same arguments
// always give the same bytes (protobufjs writes fields in declaration order, no maps, no timestamps).
//
//   const bytes = logisticModel([0.5, -1, 2], 0.1);            // features [N,3] -> psale [N,1]
//   const mlp = mlpModel([{ weights: w1, bias: b1 }, { weights: w2, bias: b2 }]);
//   const gbdt = treeEnsembleModel([{ feature: 0, threshold: 0.5, left: { leaf: -1 }, right: { leaf: 1 } }]);
import { buildOnnxModel, DEFAULT_OPSETS } from './onnx-proto.js';
import type { OnnxNode, OnnxInitializer } from './onnx-proto.js';

export * from './onnx-proto.js';

export interface IoNames {
  readonly inputName?: string;
  readonly outputName?: string;
  readonly producer?: string;
}

/** features [N, F] -> sigmoid(features · w + b) as [N, 1]. */
export function logisticModel(weights: readonly number[], bias: number, opts: IoNames = {}): Uint8Array {
  const inputName = opts.inputName ?? 'features';
  const outputName = opts.outputName ?? 'psale';
  const f = weights.length;
  return buildOnnxModel({
    inputs: [{ name: inputName, shape: ['N', f] }],
    outputs: [{ name: outputName, shape: ['N', 1] }],
    initializers: [
      { name: 'W', dims: [f, 1], values: weights },
      { name: 'B', dims: [1], values: [bias] },
    ],
    nodes: [
      { opType: 'MatMul', inputs: [inputName, 'W'], outputs: ['xw'] },
      { opType: 'Add', inputs: ['xw', 'B'], outputs: ['logit'] },
      { opType: 'Sigmoid', inputs: ['logit'], outputs: [outputName] },
    ],
    opsets: [{ domain: '', version: 17 }],
    producer: opts.producer ?? 'airmail-onnx-builder',
  });
}

export interface LinearShapeOptions extends IoNames {
  /** The batch dimension written into the input and output shapes: 'N' (dynamic, default) or a fixed size (torch.onnx.export without dynamic_axes writes 1). */
  readonly batch?: number | string;
  /** One [N, 1] input per feature, named so (skl2onnx with one initial type per column), instead of one [N, F] input. */
  readonly perFeatureInputs?: readonly string[];
}

/**
 * x · w + b as [batch, 1], with the input layout of `opts`: one [batch, F] tensor, or one
 * [batch, 1] tensor per feature (concatenated inside the graph).
 */
export function linearModel(weights: readonly number[], bias: number, opts: LinearShapeOptions = {}): Uint8Array {
  const inputName = opts.inputName ?? 'features';
  const outputName = opts.outputName ?? 'psale';
  const batch = opts.batch ?? 'N';
  const f = weights.length;
  const per = opts.perFeatureInputs;
  if (per && per.length !== f) throw new Error(`linearModel: ${per.length} per-feature inputs for ${f} weights`);
  const nodes: OnnxNode[] = per ? [{ opType: 'Concat', inputs: [...per], outputs: [inputName], attributes: { axis: { i: 1 } } }] : [];
  nodes.push({ opType: 'MatMul', inputs: [inputName, 'W'], outputs: ['xw'] }, { opType: 'Add', inputs: ['xw', 'B'], outputs: [outputName] });
  return buildOnnxModel({
    inputs: per ? per.map((name) => ({ name, shape: [batch, 1] })) : [{ name: inputName, shape: [batch, f] }],
    outputs: [{ name: outputName, shape: [batch, 1] }],
    initializers: [
      { name: 'W', dims: [f, 1], values: weights },
      { name: 'B', dims: [1], values: [bias] },
    ],
    nodes,
    opsets: [{ domain: '', version: 17 }],
    producer: opts.producer ?? 'airmail-onnx-builder',
  });
}

/** A dense layer: weights[i][j] connects input i to output j (the MatMul [in, out] layout). */
export interface DenseLayer {
  readonly weights: readonly (readonly number[])[];
  readonly bias: readonly number[];
}

/** Dense layers with ReLU between them and Sigmoid after the last: [N, in] -> [N, out_last]. */
export function mlpModel(layers: readonly DenseLayer[], opts: IoNames = {}): Uint8Array {
  if (layers.length === 0) throw new Error('mlpModel needs at least one layer');
  const inputName = opts.inputName ?? 'features';
  const outputName = opts.outputName ?? 'psale';
  const initializers: OnnxInitializer[] = [];
  const nodes: OnnxNode[] = [];
  let current = inputName;
  let width = layers[0]!.weights.length;
  layers.forEach((layer, k) => {
    const rows = layer.weights.length;
    const cols = layer.bias.length;
    if (rows !== width) throw new Error(`mlpModel layer ${k}: ${rows} weight rows, but the previous width is ${width}`);
    layer.weights.forEach((row, i) => {
      if (row.length !== cols) throw new Error(`mlpModel layer ${k}: weight row ${i} has ${row.length} columns, bias has ${cols}`);
    });
    initializers.push({ name: `W${k}`, dims: [rows, cols], values: layer.weights.flat() });
    initializers.push({ name: `B${k}`, dims: [cols], values: layer.bias });
    nodes.push({ opType: 'MatMul', inputs: [current, `W${k}`], outputs: [`mm${k}`] });
    nodes.push({ opType: 'Add', inputs: [`mm${k}`, `B${k}`], outputs: [`z${k}`] });
    const last = k === layers.length - 1;
    nodes.push({ opType: last ? 'Sigmoid' : 'Relu', inputs: [`z${k}`], outputs: [last ? outputName : `h${k}`] });
    current = `h${k}`;
    width = cols;
  });
  return buildOnnxModel({
    inputs: [{ name: inputName, shape: ['N', layers[0]!.weights.length] }],
    outputs: [{ name: outputName, shape: ['N', width] }],
    initializers,
    nodes,
    opsets: [{ domain: '', version: 17 }],
    producer: opts.producer ?? 'airmail-onnx-builder',
  });
}

export interface ClassifierOptions {
  readonly inputName?: string;
  /** Default label, probabilities: skl2onnx's names for a classifier exported with zipmap=False. */
  readonly labelName?: string;
  readonly probabilitiesName?: string;
  readonly producer?: string;
}

/**
 * A linear classifier as skl2onnx exports one with options={'zipmap': False}: features [N, F] ->
 * `label` int64 [N] (ArgMax) then `probabilities` float32 [N, C] (Softmax of x · W + b).
 * `weights` is [F][C], `bias` [C].
 */
export function classifierModel(weights: readonly (readonly number[])[], bias: readonly number[], opts: ClassifierOptions = {}): Uint8Array {
  const inputName = opts.inputName ?? 'features';
  const label = opts.labelName ?? 'label';
  const probabilities = opts.probabilitiesName ?? 'probabilities';
  const f = weights.length;
  const c = bias.length;
  weights.forEach((row, i) => {
    if (row.length !== c) throw new Error(`classifierModel: weight row ${i} has ${row.length} columns, bias has ${c}`);
  });
  return buildOnnxModel({
    inputs: [{ name: inputName, shape: ['N', f] }],
    outputs: [{ name: label, elemType: 'int64', shape: ['N'] }, { name: probabilities, shape: ['N', c] }],
    initializers: [
      { name: 'W', dims: [f, c], values: weights.flat() },
      { name: 'B', dims: [c], values: bias },
    ],
    nodes: [
      { opType: 'MatMul', inputs: [inputName, 'W'], outputs: ['xw'] },
      { opType: 'Add', inputs: ['xw', 'B'], outputs: ['logits'] },
      { opType: 'Softmax', inputs: ['logits'], outputs: [probabilities], attributes: { axis: { i: 1 } } },
      { opType: 'ArgMax', inputs: [probabilities], outputs: [label], attributes: { axis: { i: 1 }, keepdims: { i: 0 } } },
    ],
    opsets: [{ domain: '', version: 17 }],
    producer: opts.producer ?? 'airmail-onnx-builder',
  });
}

/** A regression tree: go left when x[feature] <= threshold (BRANCH_LEQ). */
export type TreeNode =
  | { readonly leaf: number }
  | { readonly feature: number; readonly threshold: number; readonly left: TreeNode; readonly right: TreeNode };

export interface TreeEnsembleOptions extends IoNames {
  /** Width F of the input [N, F]; defaults to the largest feature index used plus one. */
  readonly featureCount?: number;
  /** Added to the sum of the leaves (e.g. a GBDT's prior log-odds). */
  readonly baseValue?: number;
  /** Apply Sigmoid to the sum (default true), as a GradientBoostingClassifier export does. */
  readonly sigmoid?: boolean;
}

function maxFeature(t: TreeNode): number {
  return 'leaf' in t ? -1 : Math.max(t.feature, maxFeature(t.left), maxFeature(t.right));
}

/** ai.onnx.ml TreeEnsembleRegressor (SUM of trees + base value), then Sigmoid: [N, F] -> [N, 1]. */
export function treeEnsembleModel(trees: readonly TreeNode[], opts: TreeEnsembleOptions = {}): Uint8Array {
  if (trees.length === 0) throw new Error('treeEnsembleModel needs at least one tree');
  const inputName = opts.inputName ?? 'features';
  const outputName = opts.outputName ?? 'psale';
  const featureCount = opts.featureCount ?? Math.max(0, ...trees.map(maxFeature)) + 1;
  const n = {
    treeIds: [] as number[], nodeIds: [] as number[], featureIds: [] as number[], values: [] as number[],
    modes: [] as string[], trueIds: [] as number[], falseIds: [] as number[],
  };
  const t = { treeIds: [] as number[], nodeIds: [] as number[], ids: [] as number[], weights: [] as number[] };
  trees.forEach((tree, treeId) => {
    let next = 0;
    // Preorder numbering; a branch's slot is filled in after its children are numbered.
    const visit = (nd: TreeNode): number => {
      const id = next++;
      const slot = n.treeIds.length;
      n.treeIds.push(treeId);
      n.nodeIds.push(id);
      if ('leaf' in nd) {
        n.featureIds.push(0); n.values.push(0); n.modes.push('LEAF'); n.trueIds.push(0); n.falseIds.push(0);
        t.treeIds.push(treeId); t.nodeIds.push(id); t.ids.push(0); t.weights.push(nd.leaf);
        return id;
      }
      if (nd.feature < 0 || nd.feature >= featureCount) throw new Error(`tree ${treeId}: feature ${nd.feature} outside [0, ${featureCount})`);
      n.featureIds.push(nd.feature); n.values.push(nd.threshold); n.modes.push('BRANCH_LEQ'); n.trueIds.push(-1); n.falseIds.push(-1);
      n.trueIds[slot] = visit(nd.left);
      n.falseIds[slot] = visit(nd.right);
      return id;
    };
    visit(tree);
  });
  const sigmoid = opts.sigmoid ?? true;
  const sumName = sigmoid ? 'logit' : outputName;
  const nodes: OnnxNode[] = [
    {
      opType: 'TreeEnsembleRegressor',
      domain: 'ai.onnx.ml',
      inputs: [inputName],
      outputs: [sumName],
      attributes: {
        n_targets: { i: 1 },
        aggregate_function: { s: 'SUM' },
        post_transform: { s: 'NONE' },
        base_values: { floats: [opts.baseValue ?? 0] },
        nodes_treeids: { ints: n.treeIds },
        nodes_nodeids: { ints: n.nodeIds },
        nodes_featureids: { ints: n.featureIds },
        nodes_values: { floats: n.values },
        nodes_modes: { strings: n.modes },
        nodes_truenodeids: { ints: n.trueIds },
        nodes_falsenodeids: { ints: n.falseIds },
        target_treeids: { ints: t.treeIds },
        target_nodeids: { ints: t.nodeIds },
        target_ids: { ints: t.ids },
        target_weights: { floats: t.weights },
      },
    },
  ];
  if (sigmoid) nodes.push({ opType: 'Sigmoid', inputs: [sumName], outputs: [outputName] });
  return buildOnnxModel({
    inputs: [{ name: inputName, shape: ['N', featureCount] }],
    outputs: [{ name: outputName, shape: ['N', 1] }],
    nodes,
    opsets: DEFAULT_OPSETS,
    producer: opts.producer ?? 'airmail-onnx-builder',
  });
}

export interface ExternalDataOptions extends IoNames {
  readonly featureCount?: number;
  /** The external file the weight initializer points at (it is never written). */
  readonly location?: string;
}

/**
 * A logistic model whose weight initializer lives in an external file (data_location = EXTERNAL).
 * Serving must refuse such models: loading one would read an arbitrary path next to the model.
 */
export function externalDataModel(opts: ExternalDataOptions = {}): Uint8Array {
  const inputName = opts.inputName ?? 'features';
  const outputName = opts.outputName ?? 'psale';
  const f = opts.featureCount ?? 4;
  return buildOnnxModel({
    inputs: [{ name: inputName, shape: ['N', f] }],
    outputs: [{ name: outputName, shape: ['N', 1] }],
    initializers: [
      { name: 'W', dims: [f, 1], external: { location: opts.location ?? 'psale_weights.bin', offset: 0, length: f * 4 } },
      { name: 'B', dims: [1], values: [0] },
    ],
    nodes: [
      { opType: 'MatMul', inputs: [inputName, 'W'], outputs: ['xw'] },
      { opType: 'Add', inputs: ['xw', 'B'], outputs: ['logit'] },
      { opType: 'Sigmoid', inputs: ['logit'], outputs: [outputName] },
    ],
    opsets: [{ domain: '', version: 17 }],
    producer: opts.producer ?? 'airmail-onnx-builder',
  });
}

// Pure-JS references (float64 math) for checking what onnxruntime computes from these builders.

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** sigmoid(x · w + b) for one row. */
export function referenceLogistic(weights: readonly number[], bias: number, row: ArrayLike<number>): number {
  let z = bias;
  for (let i = 0; i < weights.length; i++) z += Math.fround(weights[i]!) * row[i]!;
  return sigmoid(z);
}

/** The MLP of `mlpModel` for one row; returns the last layer's outputs. */
export function referenceMlp(layers: readonly DenseLayer[], row: ArrayLike<number>): number[] {
  let h = Array.from(row);
  layers.forEach((layer, k) => {
    const out = layer.bias.map((b) => Math.fround(b));
    for (let i = 0; i < h.length; i++) {
      const w = layer.weights[i]!;
      for (let j = 0; j < out.length; j++) out[j]! += h[i]! * Math.fround(w[j]!);
    }
    h = k === layers.length - 1 ? out.map(sigmoid) : out.map((z) => Math.max(0, z));
  });
  return h;
}

/** The raw sum (base value + leaves) of `treeEnsembleModel`, before any Sigmoid. */
export function referenceTreeSum(trees: readonly TreeNode[], row: ArrayLike<number>, baseValue = 0): number {
  let sum = baseValue;
  for (const tree of trees) {
    let nd = tree;
    while (!('leaf' in nd)) nd = Math.fround(row[nd.feature]!) <= Math.fround(nd.threshold) ? nd.left : nd.right;
    sum += Math.fround(nd.leaf);
  }
  return sum;
}
