/**
 * Building an envelope from what a publisher hands over, and checking it before anything is stored.
 *
 * `prepareEnvelope` runs where the registry runs (the service calls it for HTTP publishes): it checks
 * the sha256, tags and metrics, decodes the sample, loads the model (a model that does not load is
 * refused), derives the shape and computes statistics. `publishModel` is the TS API: it also reads
 * files, collects the publisher's context (lockfile, git, user/team) and sends the result to a store
 * or to anything with `publish(request)` (the HTTP client).
 *
 *   await publishModel({ artifact: 'psale.onnx', flavor: 'onnx', name: 'psale', description: 'p(sale)',
 *                        tags: { stage: 'prod' }, sample: 'sample.arrow', metrics: { auc: 0.81 } }, store);
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { createOnnxModel } from '../onnx.js';
import { assertSelfContained, bundleJsModule } from './bundle.js';
import { collectContext, environmentTags } from './context.js';
import { assertSafeName, assertValidMetrics, ENVELOPE_FORMAT, RESERVED_KEYS, reservedKeyProblem, FLAVORS, isSha256, type ColumnSpec, type ColumnType, type ContextSpec, type Envelope, type EnvelopeDraft, type FeatureSource, type FeatureStats, type Flavor, type FunctionSpec, type Metrics } from './envelope.js';
import { RegistryError } from './errors.js';
import { PUBLISHED_BY } from './publishers.js';
import { checkFeatureCount, checkMetricLimits, checkTagLimits } from './limits.js';
import { checkTimeoutMs, loadFunction, sha256Hex, verifySha256, type ColumnValues } from './function.js';
import { inspectOnnx, onnxElemName, type OnnxIo } from './onnx-inspect.js';
import { exampleSelector, firstWide, parseSelector, widthOf, selectionProblem, selectorText, type OutputInfo, type OutputSelect } from '../models/output-select.js';
import { packFloat32, readSample, sampleStats, type SampleFormat, type SampleTable } from './stats.js';

/** Everything in memory: what crosses HTTP. */
export interface PublishRequest {
  readonly artifact: Uint8Array;
  readonly flavor: Flavor;
  readonly name: string;
  readonly description: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly sample?: Uint8Array | readonly Record<string, unknown>[];
  readonly sampleFormat?: SampleFormat;
  /** Declared shape; derived from the sample (inputs) and the model (outputs) when omitted. */
  readonly inputs?: readonly ColumnSpec[];
  readonly outputs?: readonly ColumnSpec[];
  readonly metrics?: unknown;
  readonly context?: ContextSpec;
  readonly featureSource?: FeatureSource;
  /** The sha256 the publisher computed; the bytes must hash to it. */
  readonly sha256?: string;
  readonly filename?: string;
}

export interface PublishTarget {
  publish(req: PublishRequest): Promise<Envelope>;
}

export interface Prepared {
  readonly draft: EnvelopeDraft;
  readonly bytes: Uint8Array;
}

const UNKNOWN_CONTEXT: ContextSpec = { runtime: 'unknown', runtimeVersion: 'unknown', language: 'unknown', packages: {} };
const CHECK_ROWS = 256;

function invalid(message: string, problems?: string[]): never {
  throw new RegistryError('ENVELOPE_INVALID', message, problems ? { details: { problems } } : {});
}

function checkIndex(req: PublishRequest): Record<string, string> {
  const problems: string[] = [];
  if (typeof req.name !== 'string' || req.name === '') problems.push('index tag "name" is required');
  if (typeof req.description !== 'string' || req.description.trim() === '') problems.push('index tag "description" is required');
  const tags = req.tags ?? {};
  // First: a million tags is refused by its count, not checked one by one.
  if (tags && typeof tags === 'object') checkTagLimits({ ...tags, name: req.name, description: req.description });
  for (const [k, v] of Object.entries(tags)) {
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(k)) problems.push(`tag key ${JSON.stringify(k)} is not [A-Za-z0-9._-]`);
    else if (RESERVED_KEYS.has(k)) problems.push(reservedKeyProblem(k, 'tag key')!);
    else if (k === PUBLISHED_BY) problems.push(`tag '${PUBLISHED_BY}' is set by the registry from the publisher's token (AIRMAIL_PUBLISHER_TOKENS), not by a publish`);
    if (typeof v !== 'string') problems.push(`tag '${k}' must be a string`);
    if ((k === 'name' && v !== req.name) || (k === 'description' && v !== req.description)) problems.push(`tag '${k}' (${JSON.stringify(v)}) contradicts the ${k} given (${JSON.stringify(k === 'name' ? req.name : req.description)}): set the ${k} with --${k}, not with a tag`);
  }
  if (problems.length) invalid(`the envelope index is ${problems.every((p) => p.endsWith('is required')) ? 'incomplete' : 'invalid'}:\n  ${problems.join('\n  ')}`, problems);
  assertSafeName(req.name, 'model name');
  return { ...tags, name: req.name, description: req.description };
}

function typeOfValues(v: ColumnValues): ColumnType {
  if (v instanceof Float32Array) return 'float32';
  if (v instanceof Float64Array) return 'float64';
  if (v instanceof Int32Array) return 'int32';
  const first = (v as readonly unknown[]).find((x) => x !== null && x !== undefined);
  return typeof first === 'string' ? 'string' : typeof first === 'boolean' ? 'bool' : 'float64';
}

function sampleColumns(sample: SampleTable, names: readonly string[], rows: number): Record<string, ColumnValues> {
  const out: Record<string, ColumnValues> = {};
  for (const n of names) {
    const c = sample.columns.find((x) => x.name === n);
    if (!c) throw new RegistryError('SAMPLE_INVALID', `the sample has no column '${n}'`);
    out[n] = c.numbers ? (c.type === 'float32' ? Float32Array.from(c.numbers.subarray(0, rows)) : c.numbers.slice(0, rows)) : c.strings!.slice(0, rows);
  }
  return out;
}

async function onnxShape(bytes: Uint8Array, req: PublishRequest, sample: SampleTable | undefined): Promise<Pick<FunctionSpec, 'inputs' | 'outputs' | 'onnx'>> {
  const info = inspectOnnx(bytes);
  // onnxruntime-node reads tensors only; a sequence or map output (skl2onnx's ZipMap) fails every run, whichever outputs are declared.
  const notTensor = info.outputs.filter((o) => o.elemType === 0);
  if (notTensor.length) {
    throw new RegistryError('MODEL_LOAD_FAILED', `the model's output(s) ${notTensor.map((o) => `'${o.name}'`).join(', ')} are not tensors (a sequence or map, such as the seq(map(int64, float)) of a classifier's ZipMap), which onnxruntime-node cannot return; export the classifier without ZipMap (skl2onnx: to_onnx(model, ..., options={'zipmap': False})), then choose its positive-class column at publish: ${publishSelector('psale')('probabilities[1]')}`);
  }
  const model = await createOnnxModel(bytes);
  try {
    const tensorIn = info.inputs[0]!;
    const width = model.featureCount > 0 ? model.featureCount : undefined;
    let inputs = req.inputs;
    if (info.inputs.length > 1) {
      // One model input per feature: the input columns are the model's inputs, by name, in its order.
      const names = info.inputs.map((i) => i.name);
      const given = inputs?.map((c) => c.name) ?? sample?.columns.map((c) => c.name);
      if (!given) throw new RegistryError('SAMPLE_INVALID', `an onnx function needs a sample (or declared inputs) holding its input columns (${names.join(', ')})`);
      const missing = names.filter((n) => !given.includes(n));
      if (missing.length) throw new RegistryError('SAMPLE_INVALID', `the model takes one input per feature (${names.join(', ')}), and the ${req.inputs ? 'declared inputs' : 'sample'} lack(s) ${missing.join(', ')}: name the ${req.inputs ? 'inputs' : 'sample columns'} after the model's inputs`);
      const extra = req.inputs ? given.filter((n) => !names.includes(n)) : [];
      if (extra.length) throw new RegistryError('SAMPLE_INVALID', `the model takes one input per feature (${names.join(', ')}); declared input(s) ${extra.join(', ')} are none of them`);
      inputs = names.map((name) => ({ name, type: 'float32' as const }));
    }
    if (!inputs) {
      if (!sample) throw new RegistryError('SAMPLE_INVALID', 'an onnx function needs a sample (or declared inputs) to name its input columns');
      const bad = sample.columns.filter((c) => !c.numbers).map((c) => `${c.name} (${c.type})`);
      if (bad.length) throw new RegistryError('SAMPLE_INVALID', `sample columns ${bad.join(', ')} are not numeric; declare the inputs to use only some columns`);
      inputs = sample.columns.map((c) => ({ name: c.name, type: 'float32' as const }));
    }
    const notNumeric = inputs.filter((c) => c.type === 'string' || c.type === 'bool');
    if (notNumeric.length) {
      throw new RegistryError('SAMPLE_INVALID', `an onnx function packs its inputs into one float tensor, so every input column must be numeric: ${notNumeric.map((c) => `${c.name} (${c.type})`).join(', ')} is not (encode it as numbers before exporting the model, or publish a js function)`);
    }
    if (width !== undefined && inputs.length !== width) {
      throw new RegistryError('SAMPLE_INVALID', `the model takes ${width} features but ${inputs.length} input columns were ${req.inputs ? 'declared' : 'in the sample'} (${inputs.map((c) => c.name).join(', ')})`);
    }
    const { outputs, selections } = onnxOutputs(info.outputs, req.outputs);
    if (sample && sample.rows > 0) {
      const rows = Math.min(CHECK_ROWS, sample.rows);
      const out = await model.predictSelected(packFloat32(sample, inputs.map((c) => c.name), rows), rows, selections).catch((err: Error) => {
        // Every output is served unless some are named: a model with a batch-level output (a scalar) needs the others named.
        const some = !req.outputs && info.outputs.length > 1 ? `; to serve only some of the model's outputs (${info.outputs.map((o) => o.name).join(', ')}), name them: ${publishSelector('psale')('OUTPUT')}` : '';
        throw new RegistryError('MODEL_LOAD_FAILED', `the model fails on its sample: ${err.message}${some}`);
      });
      out.forEach((values, i) => {
        if (values.length !== rows) throw new RegistryError('MODEL_LOAD_FAILED', `the model returned ${values.length} values of '${outputs[i]!.name}' for ${rows} sample rows`);
      });
    }
    return { inputs, outputs, onnx: { inputName: tensorIn.name, outputNames: info.outputs.map((o) => o.name) } };
  } finally {
    await model.release();
  }
}

/** How a selector is written at publish, for messages. */
function publishSelector(name: string): (selector: string) => string {
  return (x) => `--outputs ${name}=${x} (over HTTP: "outputs": "${name}=${x}")`;
}

/**
 * The output columns of an onnx envelope and the model output (and column) each is read from.
 * Declared with selectors (`psale=probabilities[1]`), each names its output; otherwise the columns
 * are the model's outputs in order (the first may be renamed), each of one value per row.
 */
function onnxOutputs(modelOutputs: readonly OnnxIo[], declared: readonly ColumnSpec[] | undefined): { outputs: ColumnSpec[]; selections: OutputSelect[] } {
  const infos: OutputInfo[] = modelOutputs.map((o) => ({ name: o.name, ...(onnxElemName(o.elemType) ? { type: onnxElemName(o.elemType)! } : {}), shape: o.shape }));
  const typeOf = (name: string): ColumnType => onnxElemName(modelOutputs.find((o) => o.name === name)?.elemType ?? 1) ?? 'float32';
  if (declared?.some((o) => o.output !== undefined)) {
    const problems: string[] = [];
    const seen = new Set<string>();
    const outputs = declared.map((o): ColumnSpec => {
      const sel: OutputSelect = { output: o.output ?? o.name, ...(o.column !== undefined ? { column: o.column } : {}) };
      if (seen.has(o.name)) problems.push(`output column '${o.name}' is declared twice`);
      seen.add(o.name);
      const p = selectionProblem(infos, sel, publishSelector(o.name));
      if (p) problems.push(`${o.name}=${selectorText(sel)}: ${p}`);
      return { name: o.name, type: sel.column === undefined ? typeOf(sel.output) : 'float32', ...sel };
    });
    if (problems.length) invalid(`the declared outputs do not fit the model:\n  ${problems.join('\n  ')}`, problems);
    return { outputs, selections: outputs.map((o) => ({ output: o.output!, ...(o.column !== undefined ? { column: o.column } : {}) })) };
  }
  const outputs = declared ? [...declared] : infos.map((o) => ({ name: o.name, type: typeOf(o.name) }));
  if (outputs.length > infos.length) {
    throw new RegistryError('SAMPLE_INVALID', `${outputs.length} output columns were declared (${outputs.map((o) => o.name).join(', ')}) but the model has ${infos.length} output(s) (${infos.map((o) => o.name).join(', ')})`);
  }
  // Each output column is one value per row: an [N, k] output (class probabilities) needs a column chosen.
  const wide = firstWide(infos.slice(0, outputs.length));
  if (wide) {
    const at = infos.indexOf(wide);
    const example = exampleSelector(infos);
    const name = declared?.[at]?.name ?? 'psale';
    const others = infos.filter((o) => o !== wide && widthOf(o) === 1).map((o) => o.name);
    const also = others.length ? `; only the output columns named are served (add others by name: --outputs ${name}=${example},${others.join(',')})` : '';
    throw new RegistryError('MODEL_LOAD_FAILED', `${selectionProblem(infos, { output: wide.name }, publishSelector(name))!}${also}`);
  }
  return { outputs, selections: infos.slice(0, outputs.length).map((o) => ({ output: o.name })) };
}

const OUTPUT_ENTRY = /^([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=\s*(\S+)|:\s*([a-z0-9]+))?$/;

/**
 * `--outputs` (and an HTTP publish's "outputs" given as a string): comma-separated entries, each
 * `name[:type]` (the model's outputs in order, renamed) or `name=output[column]` / `name=output`
 * (a selector: read from that model output, that column of it when it is [N, k]). A bare name in a
 * list with selectors names a model output (`label` → label=label).
 */
export function parseOutputList(text: string, types: readonly ColumnType[]): ColumnSpec[] {
  const parts = text.split(',').map((p) => p.trim());
  const selecting = parts.some((p) => p.includes('='));
  return parts.map((part): ColumnSpec => {
    const m = OUTPUT_ENTRY.exec(part);
    if (!m) invalid(`bad output column ${JSON.stringify(part)}: write name:type, or name=output[column] to score by a column of a wide output (e.g. psale=probabilities[1])`);
    const [, name, selector, type] = m;
    if (selector !== undefined || selecting) {
      if (type !== undefined) invalid(`bad output column ${JSON.stringify(part)}: with selectors, write name=output[column] (the type is the model's)`);
      const sel = parseSelector(selector ?? name!);
      if (!sel) invalid(`bad output selector ${JSON.stringify(selector)} in ${JSON.stringify(part)}: write output or output[column], e.g. probabilities[1]`);
      return { name: name!, type: 'float32', ...sel };
    }
    if (type !== undefined && !(types as readonly string[]).includes(type)) invalid(`output column '${name}' has type ${JSON.stringify(type)}; use one of ${types.join(', ')}`);
    return { name: name!, type: (type ?? 'float32') as ColumnType };
  });
}

async function jsShape(bytes: Uint8Array, req: PublishRequest, sample: SampleTable | undefined, timeoutMs: number): Promise<Pick<FunctionSpec, 'inputs' | 'outputs'>> {
  const inputs = req.inputs ?? sample?.columns.map((c) => ({ name: c.name, type: c.type }));
  if (!inputs) throw new RegistryError('SAMPLE_INVALID', 'a js function needs a sample (or declared inputs and outputs) to know its shape');
  const fn = await loadFunction({ name: req.name, version: 0, function: { flavor: 'js', artifact: { sha256: sha256Hex(bytes), size: bytes.length }, inputs, outputs: [] } }, bytes, { timeoutMs });
  try {
    if (!sample || sample.rows === 0) {
      if (!req.outputs) throw new RegistryError('SAMPLE_INVALID', 'without a sample a js function must declare its outputs');
      return { inputs, outputs: req.outputs };
    }
    const rows = Math.min(CHECK_ROWS, sample.rows);
    const result = await fn.predict(sampleColumns(sample, inputs.map((c) => c.name), rows), rows, { timeoutMs }).catch((err: RegistryError) => {
      throw new RegistryError('MODEL_LOAD_FAILED', `the js function fails on its sample: ${err.message}`, err.details ? { details: err.details } : {});
    });
    const problems = Object.entries(result).filter(([, v]) => !v || typeof v !== 'object' || v.length !== rows).map(([k]) => `output '${k}' does not have ${rows} values`);
    for (const o of req.outputs ?? []) if (!(o.name in result)) problems.push(`declared output '${o.name}' is not returned`);
    if (!Object.keys(result).length) problems.push('predict returned no columns');
    if (problems.length) throw new RegistryError('MODEL_LOAD_FAILED', `the js function does not fit its sample: ${problems.join('; ')}`);
    return { inputs, outputs: req.outputs ?? Object.entries(result).map(([name, v]) => ({ name, type: typeOfValues(v) })) };
  } finally {
    await fn.close();
  }
}

export interface PrepareOptions {
  /** Time limit of loading the model and running it on its sample, ms (default: AIRMAIL_MODEL_CHECK_MS or 20 s). */
  readonly checkTimeoutMs?: number;
}

/** Checks and derives everything; throws a coded RegistryError on the first kind of problem found. */
export async function prepareEnvelope(req: PublishRequest, opts: PrepareOptions = {}): Promise<Prepared> {
  const bytes = req.artifact;
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) invalid('the artifact is empty');
  if (req.sha256 !== undefined) {
    if (!isSha256(req.sha256)) invalid(`sha256 ${JSON.stringify(req.sha256)} is not 64 lowercase hex digits`);
    verifySha256(bytes, req.sha256);
  }
  if (!FLAVORS.includes(req.flavor)) invalid(`flavor ${JSON.stringify(req.flavor)} is not one of ${FLAVORS.join(', ')}`);
  const index = checkIndex(req);
  if (req.flavor === 'js') await assertSelfContained(bytes, req.filename ? basename(req.filename) : undefined);
  checkMetricLimits(req.metrics);
  const metrics: Metrics = req.metrics === undefined ? {} : assertValidMetrics(req.metrics);
  let sample: SampleTable | undefined;
  if (req.sample !== undefined) {
    sample = req.sample instanceof Uint8Array ? readSample(req.sample, req.sampleFormat) : readSample(new TextEncoder().encode(JSON.stringify(req.sample)), 'json');
    checkFeatureCount(sample.columns.length);
  }
  const sha256 = sha256Hex(bytes);
  const shape = req.flavor === 'onnx' ? await onnxShape(bytes, req, sample) : await jsShape(bytes, req, sample, opts.checkTimeoutMs ?? checkTimeoutMs());
  const artifact = { sha256, size: bytes.length, ...(req.filename ? { filename: basename(req.filename) } : {}) };
  // Over HTTP a training job may say only what it knows ({"language": "python"}): the rest reads unknown.
  if (req.context !== undefined && (req.context === null || typeof req.context !== 'object' || Array.isArray(req.context))) invalid('context must be an object (runtime, runtimeVersion, language, languageVersion, packages, gitCommit)');
  const context = { ...UNKNOWN_CONTEXT, ...req.context, ...(req.flavor === 'js' ? { bundle: { sha256, size: bytes.length } } : {}) };
  const draft: EnvelopeDraft = {
    format: ENVELOPE_FORMAT,
    name: req.name,
    function: { flavor: req.flavor, artifact, ...shape },
    context,
    index,
    data: { rows: sample?.rows ?? 0, features: sample ? inputStats(sample, shape.inputs) : {}, ...(req.featureSource ? { source: req.featureSource } : {}) },
    metrics,
  };
  return { draft, bytes };
}

/** A store publishes directly (the draft is prepared here); anything else gets the request. */
export interface DraftStore {
  /** Marks a folder store (RegistryStore), as opposed to a remote target. */
  readonly root: string;
  publish(draft: EnvelopeDraft, bytes: Uint8Array): Promise<Envelope>;
}

export interface PublishModelInput extends Omit<PublishRequest, 'artifact' | 'sample' | 'metrics' | 'context'> {
  /** Bytes, or a file path. */
  readonly artifact: Uint8Array | string;
  /** Bytes, a file path (format from the extension or the content), or JSON rows. */
  readonly sample?: Uint8Array | string | readonly Record<string, unknown>[];
  /** An object, or a JSON file path. */
  readonly metrics?: Metrics | string;
  /** Package subset to record (with dependencies); default: all production dependencies. */
  readonly packages?: readonly string[];
  /** Overrides of the collected context (e.g. language: 'python'). */
  readonly context?: Partial<ContextSpec>;
  readonly cwd?: string;
  /** What the context could not record (no package-lock.json, no git checkout); default: a process warning. */
  readonly onWarning?: (message: string) => void;
}

function formatFromPath(path: string): SampleFormat | undefined {
  const ext = path.toLowerCase().split('.').pop();
  return ext === 'arrow' || ext === 'feather' || ext === 'ipc' ? 'arrow' : ext === 'json' ? 'json' : ext === 'csv' ? 'csv' : undefined;
}

/** user/team come from the environment; a --tag that contradicts them is refused (it would let anyone publish as anyone). */
function withEnvironmentTags(tags: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const derived = environmentTags();
  const conflicts = Object.entries(derived).filter(([k, v]) => tags?.[k] !== undefined && tags[k] !== v);
  if (conflicts.length) invalid(`tag(s) ${conflicts.map(([k, v]) => `'${k}' (${JSON.stringify(tags![k])}, the environment says ${JSON.stringify(v)})`).join(', ')} are derived from the environment (AIRMAIL_USER, USER, AIRMAIL_TEAM) and cannot be set with a tag`);
  return { ...tags, ...derived };
}

async function readPath(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new RegistryError('ENVELOPE_INVALID', `cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

/** Turns files and the environment into a PublishRequest (publisher side). */
export async function buildPublishRequest(input: PublishModelInput): Promise<PublishRequest> {
  const { packages, cwd, onWarning, ...rest } = input;
  let artifact = typeof input.artifact === 'string' ? await readPath(input.artifact, 'artifact') : input.artifact;
  let filename = input.filename ?? (typeof input.artifact === 'string' ? basename(input.artifact) : undefined);
  let sha256 = input.sha256;
  if (input.flavor === 'js' && typeof input.artifact === 'string') {
    // TypeScript and modules that import files or packages become one ES module here, where the files are.
    const source = artifact;
    if (sha256 !== undefined) verifySha256(source, sha256);
    artifact = await bundleJsModule(input.artifact, source);
    if (artifact !== source) {
      filename = filename?.replace(/\.[cm]?[jt]sx?$/i, '') + '.mjs';
      if (sha256 !== undefined) sha256 = sha256Hex(artifact);
    }
  }
  const sample = typeof input.sample === 'string' ? await readPath(input.sample, 'sample') : input.sample;
  const sampleFormat = input.sampleFormat ?? (typeof input.sample === 'string' ? formatFromPath(input.sample) : undefined);
  let metrics: unknown = input.metrics;
  if (typeof input.metrics === 'string') {
    try { metrics = JSON.parse(await readFile(input.metrics, 'utf8')); } catch (err) {
      throw new RegistryError('METRIC_INVALID', `cannot read metrics file ${input.metrics}: ${(err as Error).message}`);
    }
  }
  // Checked before sending: JSON on the wire turns 1e400 into null, and the registry would quote that.
  if (metrics !== undefined) assertValidMetrics(metrics);
  // A js envelope bundled from TypeScript was written in TypeScript, although it runs as JavaScript.
  const language = input.flavor === 'js' && typeof input.artifact === 'string' && /\.[cm]?tsx?$/i.test(input.artifact) ? 'typescript' : 'javascript';
  const given = input.context ?? {};
  // Only what the caller did not give is collected, and warned about.
  const warn = given.packages !== undefined || given.gitCommit !== undefined ? undefined : onWarning ?? ((m: string) => process.emitWarning(m, { code: 'AIRMAIL_PUBLISH_CONTEXT' }));
  const collected = await collectContext({ cwd: cwd ?? process.cwd(), ...(packages ? { packages } : {}), language: given.language ?? language, ...(warn ? { warn } : {}) });
  const context: ContextSpec = { ...collected, ...input.context };
  return {
    ...rest,
    artifact,
    ...(sample !== undefined ? { sample } : {}),
    ...(sampleFormat ? { sampleFormat } : {}),
    ...(metrics !== undefined ? { metrics } : {}),
    context,
    tags: withEnvironmentTags(input.tags),
    filename,
    ...(sha256 !== undefined ? { sha256 } : {}),
  } as PublishRequest;
}

/**
 * Per-feature statistics of the sample, each input's typed as the function takes it (an onnx model
 * gets a JSON or CSV sample's float64 and int32 columns as float32), not as the sample file held it.
 */
function inputStats(sample: SampleTable, inputs: readonly ColumnSpec[]): Record<string, FeatureStats> {
  const out = sampleStats(sample);
  for (const c of inputs) {
    const st = out[c.name];
    if (st && st.type !== c.type) out[c.name] = { ...st, type: c.type };
  }
  return out;
}

/** The TS API: publish to a store (folder) or a target such as the HTTP client. */
export async function publishModel(input: PublishModelInput, to: DraftStore | PublishTarget): Promise<Envelope> {
  const req = await buildPublishRequest(input);
  if (isDraftStore(to)) {
    const { draft, bytes } = await prepareEnvelope(req);
    return to.publish(draft, bytes);
  }
  return to.publish(req);
}

function isDraftStore(x: DraftStore | PublishTarget): x is DraftStore {
  return 'root' in x;
}
