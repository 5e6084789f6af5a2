/**
 * How the engine's row-major float32 feature matrix [N, F] is handed to an ONNX model's inputs.
 *
 * Exports vary. Two layouts are served, both float32:
 *  - one input [N, F] (or [N] for one feature): the matrix as it is;
 *  - one input per feature, each [N, 1] or [N] (skl2onnx with one initial type per column, or a
 *    torch model taking several tensors): column j of the matrix goes to the model's input j.
 * A fixed batch dimension (torch.onnx.export without dynamic_axes writes [1, F]) is served by running
 * the rows in chunks of that size, the last one padded, rather than failing every request of more rows.
 * Anything else (text, int64 or double inputs, wider per-feature tensors) is refused when the model
 * loads, saying what to export instead.
 */
import '../ort-env.js'; // before onnxruntime-node: telemetry off
import * as ort from 'onnxruntime-node';
import { AirmailError } from '../errors.js';

type Dim = number | string | null | undefined;
interface InputMeta { readonly name: string; readonly isTensor?: boolean; readonly type?: string; readonly shape?: readonly Dim[] }

export interface FeedPlan {
  /** The model's inputs, in its order. */
  readonly inputs: readonly { readonly name: string; readonly rank: number }[];
  /** Columns of the matrix: the single input's width (-1 when symbolic), or the number of per-feature inputs. */
  readonly featureCount: number;
  /** A fixed batch dimension, when the model has one; rows are run in chunks of it. */
  readonly batch: number | undefined;
}

const fix = 'export the model with one float32 input [N, F] (skl2onnx: initial_types=[("features", FloatTensorType([None, F]))]; torch.onnx.export: a float tensor, dynamic_axes={"features": {0: "N"}}) or one float32 [N, 1] input per feature';

function refuse(message: string): never {
  throw new AirmailError('MODEL_LOAD_FAILED', `${message}; ${fix}`);
}

export function feedPlan(meta: readonly InputMeta[]): FeedPlan {
  if (meta.length === 0) refuse('the model has no inputs');
  for (const m of meta) {
    const shape = m.shape ?? [];
    if (m.isTensor === false) refuse(`the model input '${m.name}' is not a tensor`);
    if (m.type !== 'float32') refuse(`the model input '${m.name}' is ${m.type ?? 'of an unknown type'}, and features reach a model as float32${m.type === 'string' ? ' (encode text as numbers before export, or publish a js function)' : ' (cast them inside the graph)'}`);
    if (shape.length !== 1 && shape.length !== 2) refuse(`the model input '${m.name}' has rank ${shape.length} ([${shape.map((d) => d ?? '?').join(', ')}]); a model takes rows: [N, F], [N] or [N, 1]`);
  }
  const batches = new Set(meta.map((m) => m.shape![0]).filter((d): d is number => typeof d === 'number' && d > 0));
  if (batches.size > 1) refuse(`the model's inputs fix different batch sizes (${[...batches].join(', ')})`);
  const batch = batches.size ? [...batches][0]! : undefined;
  const inputs = meta.map((m) => ({ name: m.name, rank: m.shape!.length }));
  if (meta.length === 1) {
    const dim = meta[0]!.shape!.length === 1 ? 1 : meta[0]!.shape![1];
    return { inputs, featureCount: typeof dim === 'number' ? dim : -1, batch };
  }
  const wide = meta.filter((m) => m.shape!.length === 2 && m.shape![1] !== 1);
  if (wide.length) refuse(`the model has ${meta.length} inputs, and ${wide.map((m) => `'${m.name}' [${m.shape!.map((d) => d ?? '?').join(', ')}]`).join(', ')} takes more than one value per row; a model with several inputs must take one feature in each`);
  return { inputs, featureCount: meta.length, batch };
}

/** Feeds for rows [start, start + count) of `features` (row-major, `width` wide), padded with zeros to `size` rows. */
function feeds(plan: FeedPlan, features: Float32Array, width: number, start: number, count: number, size: number): Record<string, ort.Tensor> {
  if (plan.inputs.length === 1) {
    const only = plan.inputs[0]!;
    let data = features.subarray(start * width, (start + count) * width);
    if (size !== count) { const padded = new Float32Array(size * width); padded.set(data); data = padded; }
    return { [only.name]: new ort.Tensor('float32', data, only.rank === 1 ? [size] : [size, width]) };
  }
  return Object.fromEntries(plan.inputs.map((inp, j) => {
    const col = new Float32Array(size);
    for (let r = 0; r < count; r++) col[r] = features[(start + r) * width + j]!;
    return [inp.name, new ort.Tensor('float32', col, inp.rank === 1 ? [size] : [size, 1])];
  }));
}

type Run = (feeds: Record<string, ort.Tensor>) => Promise<ort.InferenceSession.OnnxValueMapType>;

/** Runs the model on `rows` rows, in chunks of its fixed batch size when it has one. */
export async function runRows(plan: FeedPlan, features: Float32Array, rows: number, run: Run): Promise<ort.InferenceSession.OnnxValueMapType> {
  const width = plan.featureCount > 0 ? plan.featureCount : features.length / rows;
  const size = plan.batch;
  if (size === undefined || size === rows) return run(feeds(plan, features, width, 0, rows, rows));
  const parts: ort.InferenceSession.OnnxValueMapType[] = [];
  for (let start = 0; start < rows; start += size) {
    parts.push(await run(feeds(plan, features, width, start, Math.min(size, rows - start), size)));
  }
  return concat(parts, rows, size);
}

/** Joins chunk outputs along the batch dimension, dropping the padding rows. */
function concat(parts: readonly ort.InferenceSession.OnnxValueMapType[], rows: number, size: number): ort.InferenceSession.OnnxValueMapType {
  const out: Record<string, ort.OnnxValue> = {};
  for (const name of Object.keys(parts[0]!)) {
    const first = parts[0]![name] as ort.Tensor;
    const dims = first.dims ?? [];
    const per = dims.length <= 1 ? 1 : dims.slice(1).reduce((a, b) => a * b, 1);
    const data = first.data as unknown;
    if (!ArrayBuffer.isView(data)) throw new AirmailError('MODEL_FAILED', `model output '${name}' is not a numeric tensor`);
    const ctor = (data as Float32Array).constructor as new (n: number) => Float32Array;
    const joined = new ctor(rows * per);
    parts.forEach((p, k) => {
      const chunk = (p[name] as ort.Tensor).data as Float32Array;
      const take = Math.min(size, rows - k * size) * per;
      joined.set(chunk.subarray(0, take), k * size * per);
    });
    out[name] = new ort.Tensor(first.type as 'float32', joined, [rows, ...dims.slice(1)]);
  }
  return out;
}
