/**
 * Messages across the worker boundary. Frames travel as typed arrays (moved,
 * not copied); errors as `{code, message, operator}`.
 */
import type { Column } from './api.js';
import { isNumeric } from './api.js';
import type { Plan } from './config/plan.js';
import type { DatasetHandle } from './dataset.js';
import type { WireError } from './errors.js';
import type { ExecOutput, StepTrace } from './execute.js';
import type { ObserveReport, ObserveSpec } from './observe/types.js';
import type { ModelTable } from './registry/bindings.js';

export interface WorkerLoad {
  readonly plan: Plan;
  /**
   * Every dataset of the snapshot; `handle` is left out for those the worker said it holds (`need`'s
   * `has`): a handle's text columns are copied into the worker, and with 200 pipelines copying every
   * dataset again at each pipeline's first run in a worker cost 300-700 ms a pipeline.
   */
  readonly datasets: readonly { readonly id: string; readonly name: string; readonly handle?: DatasetHandle }[];
  readonly operatorModules: readonly string[];
}

export interface ExecTask {
  readonly version: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  /** Epoch ms after which the worker stops between steps. */
  readonly deadline?: number;
  /** The request's now (epoch ms) for time bounds. */
  readonly now?: number;
  readonly trace?: boolean;
  /** What to observe (metrics, debug, why, spans under the request's span); see observe/. */
  readonly observe?: ObserveSpec;
  /** Registry bindings → the models this request uses (see registry/bindings.ts). */
  readonly models?: ModelTable;
  /** Sent only when the worker answered `need` for this version. */
  readonly load?: WorkerLoad;
  /** The pool's step slot this task writes its current step to (step-slots.ts); set as it goes to a worker. */
  slot?: number;
}

export type ExecReply =
  /** The worker has not loaded this version; `has`: the dataset ids it holds (their handles need not be sent). */
  | { readonly kind: 'need'; readonly has?: readonly string[] }
  | { readonly kind: 'ok'; readonly out: ExecOutput; /** Time the worker spent executing (ms). */ readonly ms?: number; /** Of it, waiting on remote sources (ms): the pool's bulkheads read it. */ readonly waitMs?: number }
  | { readonly kind: 'error'; readonly error: WireError; readonly steps?: readonly StepTrace[]; readonly observed?: ObserveReport; readonly waitMs?: number; /** As `ok`'s: the pool reads the queue wait from it. */ readonly ms?: number };

/** Below this a buffer is copied with the message: moving one costs more than copying a few rows. */
const MOVE_FROM_BYTES = 64 * 1024;

/** Large buffers of `columns` that can be moved (not shared memory). */
export function transferables(columns: Readonly<Record<string, Column>>): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const c of Object.values(columns)) {
    const arr = isNumeric(c) ? c : c.kind === 'dict' ? c.codes : undefined;
    if (arr && arr.buffer instanceof ArrayBuffer && arr.byteLength >= MOVE_FROM_BYTES && arr.byteOffset === 0 && arr.byteLength === arr.buffer.byteLength && !out.includes(arr.buffer)) out.push(arr.buffer);
  }
  return out;
}
