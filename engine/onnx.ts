/**
 * ONNX models through onnxruntime-node: one session per (thread, artifact),
 * cached, loaded from bytes so the sha256 that was checked is what runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import './ort-env.js'; // before onnxruntime-node: telemetry off
import * as ort from 'onnxruntime-node';
import type { Dataset, ItemFeatures, ModelRef, ModelRunner } from './api.js';
import { AirmailError } from './errors.js';
import { inNative } from './native-guard.js';
import { externalDataMessage, externalTensorsOf } from './registry/onnx-inspect.js';
import { readOnnxGraph } from './models/onnx-graph.js';
import { finishScores, treeEnsembleOf, type TreeEnsembleSpec } from './models/tree-ensemble.js';
import { ItemTreeIndex } from './models/tree-index.js';
import { ItemMatrix, layoutKey } from './models/item-matrix.js';
import { loadJsModel } from './models/js-model.js';
import { feedPlan, runRows, type FeedPlan } from './models/onnx-feed.js';
import { modelInputs } from './models/scratch.js';
import { columnOf, describeOutputs, float16Values, NotPerRowError, selectionProblem, selectorText, type OutputInfo, type OutputSelect } from './models/output-select.js';

/** A loaded model of this thread: an ONNX session, or a js function in its own worker. */
type Loaded = ModelRunner & { release(): Promise<void> };
const sessions = new Map<string, Promise<Loaded>>();

export class OnnxModel implements ModelRunner {
  readonly inputName: string;
  readonly outputName: string;
  /** The column of `outputName` scored by, when it is [N, k] (a classifier's probabilities); undefined: one value per row. */
  readonly outputColumn: number | undefined;
  readonly featureCount: number;
  readonly sha256: string;
  private readonly session: ort.InferenceSession;
  /** How the feature matrix reaches the model's inputs (one [N, F] tensor, or one per feature; fixed batch sizes). */
  private readonly feed: FeedPlan;
  /** Set when the graph is a tree ensemble the engine can score per item (see models/tree-ensemble.ts). */
  private readonly trees: TreeEnsembleSpec | undefined;
  /** Per items dataset and feature layout: the item index, or null when the fast path is off for it. */
  private readonly itemIndexes = new WeakMap<Dataset, Map<string, ItemTreeIndex | null>>();

  constructor(session: ort.InferenceSession, sha256: string, bytes?: Uint8Array, select?: OutputSelect) {
    this.session = session;
    this.sha256 = sha256;
    this.feed = feedPlan(session.inputMetadata as Parameters<typeof feedPlan>[0]);
    this.inputName = session.inputNames[0]!;
    if (select) {
      const problem = selectionProblem(this.outputs, select, (x) => `the selector ${x}`);
      if (problem) throw new AirmailError('MODEL_LOAD_FAILED', `cannot score by ${selectorText(select)}: ${problem}`);
    }
    this.outputName = select?.output ?? session.outputNames[0]!;
    this.outputColumn = select?.column;
    this.featureCount = this.feed.featureCount;
    let trees: TreeEnsembleSpec | undefined;
    try {
      // The per-item tree path computes the graph's first output only.
      const first = this.outputName === session.outputNames[0] && this.outputColumn === undefined;
      const graph = first && bytes && readOnnxGraph(bytes);
      trees = graph && this.feed.inputs.length === 1 && this.feed.batch === undefined ? treeEnsembleOf(graph, this.featureCount) : undefined;
    } catch {
      trees = undefined;
    }
    this.trees = trees;
  }

  /** The model's outputs, in its order, with their types and shapes as the graph declares them. */
  get outputs(): OutputInfo[] {
    return this.session.outputMetadata.map((m) => ({ name: m.name, ...(m.isTensor ? { type: m.type, shape: m.shape } : { type: 'not a tensor', shape: [] }) }));
  }

  get treeEnsemble(): boolean {
    return this.trees !== undefined;
  }

  async scoreItems(f: ItemFeatures): Promise<Float32Array | undefined> {
    const spec = this.trees;
    if (!spec) return this.scoreGathered(f);
    if (f.columns.length !== spec.featureCount || f.rows.length === 0) return undefined;
    let byLayout = this.itemIndexes.get(f.dataset);
    if (!byLayout) this.itemIndexes.set(f.dataset, (byLayout = new Map()));
    const layout = layoutKey(f.columns);
    let index = byLayout.get(layout);
    if (index === null) return undefined;
    if (index === undefined) {
      const built = ItemTreeIndex.build(spec, f.dataset, f.columns);
      byLayout.set(layout, built ?? null);
      if (!built) return undefined;
      index = built;
      // First use of this layout: the fast path must agree with onnxruntime on these rows, or it stays off.
      if (!(await this.agrees(index, spec, f))) {
        byLayout.set(layout, null);
        return undefined;
      }
    }
    const raw = new Float64Array(f.rows.length);
    if (!(f.base ? index.scoreShared(f.base, f.constants, raw) : index.score(f.rows, f.constants, raw))) {
      byLayout.set(layout, null);
      return undefined;
    }
    return finishScores(spec, raw);
  }

  /** Any other model: the runtime scores rows gathered from a row-major copy of the item columns (see models/item-matrix.ts). */
  private async scoreGathered(f: ItemFeatures): Promise<Float32Array | undefined> {
    if (f.rows.length === 0 || (this.featureCount > 0 && f.columns.length !== this.featureCount)) return undefined;
    const m = ItemMatrix.of(f.dataset, f.columns);
    if (!m) return undefined;
    // The input is only read by this call: its buffer is reused (see models/scratch.ts).
    const take = (n: number): Float32Array => modelInputs.take(n);
    const x = f.base ? m.gatherShared(f.base, f.constants, take) : m.gather(f.rows, f.constants, take);
    let out: Float32Array | undefined;
    try {
      return (out = await this.predict(x, f.rows.length));
    } finally {
      // Not while the answer is a view of it (a runtime that hands its input back).
      if (out?.buffer !== x.buffer) modelInputs.give(x);
    }
  }

  private async agrees(index: ItemTreeIndex, spec: TreeEnsembleSpec, f: ItemFeatures): Promise<boolean> {
    const rows = f.rows.subarray(0, Math.min(256, f.rows.length));
    const raw = new Float64Array(rows.length);
    if (!index.score(rows, f.constants, raw)) return false;
    const fast = finishScores(spec, raw);
    const width = spec.featureCount;
    const x = new Float32Array(rows.length * width);
    f.columns.forEach((c, j) => {
      const col = c === null ? undefined : (f.dataset.column(c) as ArrayLike<number>);
      for (let k = 0; k < rows.length; k++) x[k * width + j] = col ? col[rows[k]!]! : f.constants[j]!;
    });
    const ref = await this.predict(x, rows.length);
    for (let k = 0; k < rows.length; k++) if (!(Math.abs(ref[k]! - fast[k]!) <= 1e-5)) return false;
    return true;
  }

  async predict(features: Float32Array, rows: number): Promise<Float32Array> {
    if (rows === 0) return new Float32Array(0);
    const out = await this.run(features, rows);
    const first = out[this.outputName];
    if (!first) throw new AirmailError('MODEL_FAILED', `model returned no output '${this.outputName}'`);
    return perRow(first, rows, this.outputName, this.outputColumn);
  }

  /** The first `count` outputs of the model (default: all), in the model's order, one value per row each. */
  async predictAll(features: Float32Array, rows: number, count?: number): Promise<Map<string, Float32Array>> {
    const names = this.session.outputNames.slice(0, count);
    const values = await this.predictSelected(features, rows, names.map((output) => ({ output })));
    return new Map(names.map((n, i) => [n, values[i]!]));
  }

  /** One value per row for each selection (an output, or a column of an [N, k] output), in the order given. */
  async predictSelected(features: Float32Array, rows: number, selections: readonly OutputSelect[]): Promise<Float32Array[]> {
    const out = rows === 0 ? undefined : await this.run(features, rows);
    return selections.map(({ output, column }) => {
      const t = out?.[output];
      if (out && !t) throw new AirmailError('MODEL_FAILED', `model returned no output '${output}' (its outputs: ${describeOutputs(this.outputs)})`);
      return t ? perRow(t, rows, output, column) : new Float32Array(0);
    });
  }

  private run(features: Float32Array, rows: number): Promise<ort.InferenceSession.OnnxValueMapType> {
    return runRows(this.feed, features, rows, (feeds) => inNative(() => this.session.run(feeds)));
  }

  release(): Promise<void> {
    return inNative(() => this.session.release());
  }
}

/**
 * One number per row from an output tensor: [N] or [N, 1] as it is, or column `column` of an [N, k]
 * output. A wide output without a column is refused rather than guessed: which column is the score
 * is the model's business (sklearn's column 0 is the negative class), chosen by a selector.
 */
function perRow(t: ort.OnnxValue, rows: number, name: string, column: number | undefined): Float32Array {
  const raw = (t as ort.Tensor).data;
  const data = (t as ort.Tensor).type === 'float16' && raw instanceof Uint16Array ? float16Values(raw) : raw;
  if (typeof data === 'string' || !data || typeof (data as ArrayLike<unknown>).length !== 'number' || ((data as ArrayLike<unknown>).length > 0 && typeof (data as ArrayLike<unknown>)[0] === 'string')) {
    throw new AirmailError('MODEL_FAILED', `model output '${name}' is not numeric`);
  }
  try {
    return columnOf(data as ArrayLike<number | bigint>, rows, column, name);
  } catch (err) {
    const dims = (t as ort.Tensor).dims ?? [];
    const how = err instanceof NotPerRowError ? '' : `; publish with --outputs psale=${name}[k], or give ModelScore output: ${name}[k]`;
    throw new AirmailError('MODEL_FAILED', `${(err as Error).message} (shape [${dims.join(', ')}])${how}`);
  }
}

export async function createOnnxModel(bytes: Uint8Array, sha256?: string, select?: OutputSelect): Promise<OnnxModel> {
  const sha = sha256 ?? createHash('sha256').update(bytes).digest('hex');
  // Checked before onnxruntime sees the bytes: what it would do with a path in the model (read it
  // relative to the working directory, or fail with an internal error) is not ours to rely on.
  const external = externalTensorsOf(bytes);
  if (external.length) throw new AirmailError('ARTIFACT_UNSAFE', externalDataMessage(external));
  let session: ort.InferenceSession;
  try {
    session = await inNative(() => ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' }));
  } catch (err) {
    throw new AirmailError('MODEL_LOAD_FAILED', `onnxruntime cannot load the model: ${(err as Error).message}`);
  }
  try {
    return new OnnxModel(session, sha, bytes, select);
  } catch (err) {
    await inNative(() => session.release()).catch(() => undefined);
    throw err;
  }
}

/** The key a loaded session is cached under (what releaseModelsExcept keeps). */
export function modelKey(ref: ModelRef): string {
  return ref.flavor !== 'js' && ref.output !== undefined ? `${ref.path}#${ref.version}#${selectorText({ output: ref.output, ...(ref.column !== undefined ? { column: ref.column } : {}) })}` : `${ref.path}#${ref.version}`;
}

/** The output an ONNX reference scores by, when it names one. */
function selectionOf(ref: ModelRef): OutputSelect | undefined {
  if (ref.flavor === 'js' || ref.output === undefined) return undefined;
  return ref.column === undefined ? { output: ref.output } : { output: ref.output, column: ref.column };
}

/** Load (once per thread) the model a reference points to: ONNX, or a registry js function. */
export function loadModel(ref: ModelRef): Promise<Loaded> {
  const id = modelKey(ref);
  let p = sessions.get(id);
  if (!p) {
    p = readFile(ref.path)
      .catch((err: Error) => {
        throw new AirmailError('MODEL_LOAD_FAILED', `cannot read model file ${ref.path}: ${err.message}`);
      })
      .then((bytes): Promise<Loaded> => (ref.flavor === 'js' ? loadJsModel(bytes, ref) : createOnnxModel(bytes, undefined, selectionOf(ref))))
      .catch((err: unknown) => {
        // At request time the config has long been accepted: a model that does not load now is
        // the server's failure (a 5xx), not the client's.
        const e = err as { code?: unknown; message?: unknown };
        if (e.code !== 'MODEL_LOAD_FAILED') throw err;
        throw new AirmailError('MODEL_FAILED', `the model could not be loaded while serving: ${String(e.message)}`, { cause: err });
      });
    sessions.set(id, p);
    p.catch(() => sessions.delete(id));
  }
  return p;
}

/** `stamp`: the file's modification time and size as read (`mtimeMs:size`); none for a pinned copy. */
type Inspected = { readonly featureCount: number; readonly pinned: string; readonly sha256: string; readonly outputs: readonly OutputInfo[]; readonly stamp?: string };
const inspected = new Map<string, Inspected>();
/** Pinned copies made by this process, by their path. */
const pinnedInfo = new Map<string, Inspected>();
let pinFolder: string | undefined;

/**
 * A copy of `bytes` named by their sha256, in a folder of this process (removed at exit): what a
 * config load checked is what its workers load, later, however the original file changes. A
 * reload that is rejected because the file now holds junk leaves the last good version serving
 * the bytes it validated.
 */
async function pin(path: string, bytes: Uint8Array, sha256: string): Promise<string> {
  if (!pinFolder) {
    const dir = mkdtempSync(join(tmpdir(), 'airmail-models-'));
    pinFolder = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const out = join(pinFolder, `${sha256.slice(0, 16)}-${basename(path)}`);
  if (!pinnedInfo.has(out)) {
    const tmp = `${out}.${randomBytes(6).toString('hex')}`;
    await writeFile(tmp, bytes, { mode: 0o400 });
    await rename(tmp, out);
  }
  return out;
}

/** Model file → the sha256 of what the last config load inspected (metrics: airmail_model_info). */
const fileVersions = new Map<string, string>();

/** The sha256 of the model file at `path` as the last config load saw it, if one did. */
export function modelFileVersion(path: string): string | undefined {
  return fileVersions.get(path);
}

/**
 * What a config load needs to know of a model file (its feature count), from a session that is
 * released at once: checking a config never leaves a session behind, however often it reloads.
 * The bytes read are pinned (see `pin`): `pinned` is the file to serve. Remembered per (path,
 * size, mtime), at most 256 files.
 */
export async function inspectModelFile(path: string): Promise<Inspected> {
  const own = pinnedInfo.get(path);
  if (own) return own;
  let st: { size: number; mtimeMs: number };
  try {
    st = await stat(path);
  } catch (err) {
    throw new AirmailError('MODEL_LOAD_FAILED', `cannot read model file ${path}: ${(err as Error).message}`);
  }
  const key = `${path}\u0000${st.size}\u0000${st.mtimeMs}`;
  const hit = inspected.get(key);
  if (hit) {
    fileVersions.set(path, hit.sha256);
    return hit;
  }
  const bytes = await readFile(path).catch((err: Error) => {
    throw new AirmailError('MODEL_LOAD_FAILED', `cannot read model file ${path}: ${err.message}`);
  });
  const sha = createHash('sha256').update(bytes).digest('hex');
  const model = await createOnnxModel(bytes, sha);
  const outputs = model.outputs;
  await model.release().catch(() => undefined);
  const pinned = await pin(path, bytes, sha);
  const info = { featureCount: model.featureCount, pinned, sha256: sha, outputs };
  pinnedInfo.set(pinned, info);
  const stamped = { ...info, stamp: `${st.mtimeMs}:${st.size}` };
  inspected.set(key, stamped);
  fileVersions.set(path, info.sha256);
  if (inspected.size > 256) inspected.delete(inspected.keys().next().value as string);
  return stamped;
}

/** Drop cached sessions whose reference is not in `keep` (after a swap). */
export async function releaseModelsExcept(keep: ReadonlySet<string>): Promise<void> {
  for (const [id, p] of sessions) {
    if (keep.has(id)) continue;
    sessions.delete(id);
    await p.then((m) => m.release()).catch(() => undefined);
  }
}
