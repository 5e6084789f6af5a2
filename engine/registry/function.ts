/**
 * Loading a published function from its verified bytes.
 *
 *  - onnx: onnxruntime-node (engine/onnx.ts); input columns are packed row-major into the model's
 *    [N, F] float tensor in the envelope's declared order; the model's outputs come back, in order,
 *    as the declared output columns (each one value per row).
 *  - js: the artifact is an ES module exporting `predict(columns) → columns` (sync or async). Each
 *    envelope gets its own worker thread (its own V8 isolate and module graph, an empty environment,
 *    a heap limit), so envelopes cannot see each other's state. This isolates envelopes from each other;
 *    it is not a sandbox against hostile code (a worker can still import node: modules).
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { createOnnxModel } from '../onnx.js';
import type { Envelope } from './envelope.js';
import { RegistryError } from './errors.js';
import { inspectOnnx } from './onnx-inspect.js';

export type ColumnValues = Float32Array | Float64Array | Int32Array | readonly (string | number | boolean | null)[];
export type Columns = Readonly<Record<string, ColumnValues>>;

export interface PredictOptions {
  /** How long this call may take, ms. A js function that overruns has its thread stopped and replaced. Default: none. */
  readonly timeoutMs?: number;
}

export interface LoadOptions {
  /** How long loading the module may take, ms (default: checkTimeoutMs()). */
  readonly timeoutMs?: number;
}

export interface LoadedFunction {
  readonly flavor: 'onnx' | 'js';
  /** Runs on `rows` rows of named input columns; returns named output columns. */
  predict(columns: Columns, rows: number, opts?: PredictOptions): Promise<Record<string, ColumnValues>>;
  close(): Promise<void>;
}

/** Default time limit of a publish check or a warm-up, ms. */
export const DEFAULT_CHECK_TIMEOUT_MS = 20_000;

/** The time limit of publish checks and warm-ups: AIRMAIL_MODEL_CHECK_MS, or 20 s. */
export function checkTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.AIRMAIL_MODEL_CHECK_MS);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_CHECK_TIMEOUT_MS;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function verifySha256(bytes: Uint8Array, expected: string, what = 'artifact'): void {
  const actual = sha256Hex(bytes);
  if (actual !== expected) {
    throw new RegistryError('ARTIFACT_CORRUPT', `${what} sha256 mismatch: expected ${expected}, the bytes hash to ${actual}`, { details: { expected, actual } });
  }
}

/** Loads `envelope`'s function from `bytes`, checking the sha256 first. */
export async function loadFunction(envelope: Pick<Envelope, 'function' | 'name' | 'version'>, bytes: Uint8Array, opts: LoadOptions = {}): Promise<LoadedFunction> {
  const fn = envelope.function;
  verifySha256(bytes, fn.artifact.sha256, `artifact of ${envelope.name}@${envelope.version}`);
  if (fn.flavor === 'onnx') {
    inspectOnnx(bytes);
    const model = await createOnnxModel(bytes, fn.artifact.sha256);
    const names = fn.inputs.map((c) => c.name);
    // Declared outputs name the model's outputs in order (the first may be renamed, e.g. to psale),
    // or each names the output it is read from (psale=probabilities[1]).
    const outs = fn.outputs.map((o) => o.name);
    const selections = fn.outputs.map((o, i) => ({ output: o.output ?? fn.onnx?.outputNames[i] ?? model.outputs[i]?.name ?? '', ...(o.column !== undefined ? { column: o.column } : {}) }));
    return {
      flavor: 'onnx',
      async predict(columns, rows) {
        const packed = new Float32Array(rows * names.length);
        names.forEach((n, j) => {
          const col = columns[n];
          if (!col) throw new RegistryError('SAMPLE_INVALID', `input column '${n}' is missing (the function takes ${names.join(', ')})`);
          for (let r = 0; r < rows; r++) packed[r * names.length + j] = Number(col[r] ?? NaN);
        });
        const all = await model.predictSelected(packed, rows, selections);
        return Object.fromEntries(outs.map((o, i) => [o, all[i] ?? new Float32Array(rows).fill(NaN)]));
      },
      close: () => model.release(),
    };
  }
  return startJsFunction(bytes, envelope.version > 0 ? `${envelope.name}@${envelope.version}` : `${envelope.name} (being published)`, opts.timeoutMs ?? checkTimeoutMs());
}

// The module is imported from a data: URL; an import error would quote that whole URL, so it is cut out.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const url = 'data:text/javascript;base64,' + workerData.source;
const clean = (e) => String(e && e.message || e).split(url).join('the module');
const ready = import(url).then((m) => {
  if (typeof m.predict !== 'function') throw new Error('the module does not export a function predict(columns)');
  return m;
});
ready.then(() => parentPort.postMessage({ id: 0, ok: true }), (e) => parentPort.postMessage({ id: 0, ok: false, message: clean(e) }));
parentPort.on('message', async ({ id, columns, rows }) => {
  try {
    const m = await ready;
    const out = await m.predict(columns, rows);
    if (Array.isArray(out) || ArrayBuffer.isView(out)) throw new Error('predict returned an array of ' + out.length + ' values; it must return an object of columns, one array per output, e.g. { score: [...] }');
    if (!out || typeof out !== 'object') throw new Error('predict must return an object of columns, one array per output, e.g. { score: [...] }');
    const transfer = [];
    for (const v of Object.values(out)) if (ArrayBuffer.isView(v) && !(v.buffer instanceof SharedArrayBuffer)) transfer.push(v.buffer);
    parentPort.postMessage({ id, ok: true, columns: out }, [...new Set(transfer)]);
  } catch (e) {
    parentPort.postMessage({ id, ok: false, message: clean(e) });
  }
});
`;

type Reply = { id: number; ok: boolean; message?: string; columns?: Record<string, ColumnValues> };

/** One worker thread running the module; `fail` settles every pending call and stops the thread. */
class JsThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private next = 1;
  dead: Error | undefined;
  /** Settles when the module has loaded (ok) or failed to. */
  readonly ready: Promise<Reply>;

  constructor(source: string, private readonly label: string) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { source }, env: {}, resourceLimits: { maxOldGenerationSizeMb: 256 }, stdout: false });
    this.worker.on('message', (r: Reply) => { const p = this.pending.get(r.id); if (p) { this.pending.delete(r.id); this.idle(); p.resolve(r); } });
    this.worker.on('error', (e) => this.fail(new RegistryError('MODEL_LOAD_FAILED', `js function ${label} crashed: ${e.message}`)));
    this.worker.on('exit', (code) => this.fail(new RegistryError('MODEL_LOAD_FAILED', `js function ${label} exited (code ${code})`)));
    this.ready = new Promise((resolve, reject) => this.pending.set(0, { resolve, reject }));
  }

  /**
   * The thread keeps the process alive only while a call waits on it: a 'message'
   * listener refs the worker's port for good, so `airmail run` with a js model
   * printed its answer and never exited. Idle, it is unref'd.
   */
  private idle(): void {
    if (this.pending.size === 0) this.worker.unref();
  }

  /** Sends one call; past `timeoutMs` the thread is stopped (a busy loop ends only that way) and `onTimeout` is thrown. */
  call(columns: Columns, rows: number, timeoutMs: number | undefined, onTimeout: () => Error): Promise<Reply> {
    return this.wait(this.next++, timeoutMs, onTimeout, { columns, rows });
  }

  waitReady(timeoutMs: number, onTimeout: () => Error): Promise<Reply> {
    return this.wait(0, timeoutMs, onTimeout);
  }

  private wait(id: number, timeoutMs: number | undefined, onTimeout: () => Error, msg?: { columns: Columns; rows: number }): Promise<Reply> {
    if (this.dead) return Promise.reject(this.dead);
    const answer = id === 0 ? this.ready : new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ id, ...msg });
    });
    if (timeoutMs === undefined || !Number.isFinite(timeoutMs)) return answer;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => { const err = onTimeout(); void this.fail(err); reject(err); }, Math.max(0, timeoutMs));
    });
    return Promise.race([answer, late]).finally(() => clearTimeout(timer));
  }

  fail(err: Error): Promise<void> {
    if (!this.dead) this.dead = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.idle();
    return this.worker.terminate().then(() => undefined, () => undefined);
  }
}

async function startJsFunction(bytes: Uint8Array, label: string, loadTimeoutMs: number): Promise<LoadedFunction> {
  const source = Buffer.from(bytes).toString('base64');
  const loadTimeout = (): Error => new RegistryError('MODEL_LOAD_FAILED', `js function ${label} did not load within ${loadTimeoutMs} ms (its worker thread was stopped)`, { details: { timeoutMs: loadTimeoutMs } });
  const start = async (): Promise<JsThread> => {
    const t = new JsThread(source, label);
    let first: Reply;
    try {
      first = await t.waitReady(loadTimeoutMs, loadTimeout);
    } catch (err) {
      await t.fail(err as Error);
      if ((err as RegistryError).details?.timeoutMs !== undefined) throw err;
      first = { id: 0, ok: false, message: (err as Error).message };
    }
    if (!first.ok) {
      await t.fail(new RegistryError('MODEL_LOAD_FAILED', `js function ${label} is not loaded`));
      throw new RegistryError('MODEL_LOAD_FAILED', `js function ${label} cannot be loaded: ${first.message ?? 'unknown error'}`);
    }
    return t;
  };
  let thread: Promise<JsThread> = start();
  await thread;
  let closed: Error | undefined;
  /**
   * The thread to call. The module loaded once; a thread stopped after an overrun, or that died
   * (out of heap, process.exit, a throw from a timer), is replaced by the next call: one poison
   * input used to leave every later call refused until the next version.
   */
  const current = async (): Promise<JsThread> => {
    const p = thread;
    const t = await p.catch(() => undefined);
    if (t && !t.dead) return t;
    if (thread === p) thread = start();
    return thread;
  };
  return {
    flavor: 'js',
    async predict(columns, rows, opts = {}) {
      if (closed) throw closed;
      const t = await current();
      const ms = opts.timeoutMs;
      const r = await t.call(columns, rows, ms, () => new RegistryError('DEADLINE_EXCEEDED', `js function ${label} did not answer within ${ms} ms (its worker thread was stopped and replaced)`, { details: { timeoutMs: ms } }))
        .catch((err: Error) => {
          // The thread died under this call: the model failed on this input, it is still loaded.
          if (!closed && err instanceof RegistryError && err.code === 'MODEL_LOAD_FAILED') throw new RegistryError('MODEL_FAILED', err.message);
          throw err;
        });
      if (!r.ok) throw new RegistryError('MODEL_FAILED', `js function ${label} failed: ${r.message ?? 'unknown error'}`);
      return r.columns ?? {};
    },
    async close() {
      closed = new RegistryError('MODEL_LOAD_FAILED', `js function ${label} is closed`);
      const t = await thread.catch(() => undefined);
      await t?.fail(closed);
    },
  };
}
