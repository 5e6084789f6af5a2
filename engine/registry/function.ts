/**
 * Loading a published function from its verified bytes.
 *
 *  - onnx: onnxruntime-node (engine/onnx.ts); input columns are packed row-major into the model's
 *    [N, F] float tensor in the envelope's declared order; the first output comes back as the first
 *    declared output column.
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

export interface LoadedFunction {
  readonly flavor: 'onnx' | 'js';
  /** Runs on `rows` rows of named input columns; returns named output columns. */
  predict(columns: Columns, rows: number): Promise<Record<string, ColumnValues>>;
  close(): Promise<void>;
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
export async function loadFunction(envelope: Pick<Envelope, 'function' | 'name' | 'version'>, bytes: Uint8Array): Promise<LoadedFunction> {
  const fn = envelope.function;
  verifySha256(bytes, fn.artifact.sha256, `artifact of ${envelope.name}@${envelope.version}`);
  if (fn.flavor === 'onnx') {
    inspectOnnx(bytes);
    const model = await createOnnxModel(bytes, fn.artifact.sha256);
    const names = fn.inputs.map((c) => c.name);
    const out = fn.outputs[0]!.name;
    return {
      flavor: 'onnx',
      async predict(columns, rows) {
        const packed = new Float32Array(rows * names.length);
        names.forEach((n, j) => {
          const col = columns[n];
          if (!col) throw new RegistryError('SAMPLE_INVALID', `input column '${n}' is missing (the function takes ${names.join(', ')})`);
          for (let r = 0; r < rows; r++) packed[r * names.length + j] = Number(col[r] ?? NaN);
        });
        return { [out]: await model.predict(packed, rows) };
      },
      close: () => model.release(),
    };
  }
  return startJsFunction(bytes, `${envelope.name}@${envelope.version}`);
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ready = import('data:text/javascript;base64,' + workerData.source).then((m) => {
  if (typeof m.predict !== 'function') throw new Error('the module does not export a function predict(columns)');
  return m;
});
ready.then(() => parentPort.postMessage({ id: 0, ok: true }), (e) => parentPort.postMessage({ id: 0, ok: false, message: String(e && e.message || e) }));
parentPort.on('message', async ({ id, columns, rows }) => {
  try {
    const m = await ready;
    const out = await m.predict(columns, rows);
    if (!out || typeof out !== 'object') throw new Error('predict must return an object of columns');
    const transfer = [];
    for (const v of Object.values(out)) if (ArrayBuffer.isView(v) && !(v.buffer instanceof SharedArrayBuffer)) transfer.push(v.buffer);
    parentPort.postMessage({ id, ok: true, columns: out }, [...new Set(transfer)]);
  } catch (e) {
    parentPort.postMessage({ id, ok: false, message: String(e && e.message || e) });
  }
});
`;

type Reply = { id: number; ok: boolean; message?: string; columns?: Record<string, ColumnValues> };

async function startJsFunction(bytes: Uint8Array, label: string): Promise<LoadedFunction> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { source: Buffer.from(bytes).toString('base64') },
    env: {},
    resourceLimits: { maxOldGenerationSizeMb: 256 },
    stdout: false,
  });
  worker.unref();
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let next = 1;
  let dead: Error | undefined;
  const failAll = (err: Error): void => {
    dead = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (r: Reply) => { const p = pending.get(r.id); if (p) { pending.delete(r.id); p.resolve(r); } });
  worker.on('error', (e) => failAll(new RegistryError('MODEL_LOAD_FAILED', `js function ${label} crashed: ${e.message}`)));
  worker.on('exit', (code) => failAll(new RegistryError('MODEL_LOAD_FAILED', `js function ${label} exited (code ${code})`)));
  const call = (msg: Omit<Reply, 'ok'> & { rows?: number; columns?: Columns }): Promise<Reply> =>
    new Promise((resolve, reject) => {
      if (dead) { reject(dead); return; }
      pending.set(msg.id, { resolve, reject });
      if (msg.id !== 0) worker.postMessage(msg);
    });
  const first = await call({ id: 0 }).catch((e: Error) => ({ id: 0, ok: false, message: e.message }) as Reply);
  if (!first.ok) {
    await worker.terminate();
    throw new RegistryError('MODEL_LOAD_FAILED', `js function ${label} cannot be loaded: ${first.message ?? 'unknown error'}`);
  }
  return {
    flavor: 'js',
    async predict(columns, rows) {
      const r = await call({ id: next++, columns, rows });
      if (!r.ok) throw new RegistryError('MODEL_FAILED', `js function ${label} failed: ${r.message ?? 'unknown error'}`);
      return r.columns ?? {};
    },
    async close() {
      failAll(new RegistryError('MODEL_LOAD_FAILED', `js function ${label} is closed`));
      await worker.terminate();
    },
  };
}
