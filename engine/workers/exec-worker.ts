/**
 * The one worker entry: executes plans against shared datasets. Plans and
 * dataset handles arrive once per version (on a `need` round trip) and are
 * kept in a small LRU; datasets are shared memory, never copied.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import type { OperatorDefinition } from '../api.js';
import { Table } from '../dataset.js';
import { asAirmailError, toWire } from '../errors.js';
import { useNativeGuard } from '../native-guard.js';
import type { ExecEnv } from '../execute.js';
import { executeObserved, reportOf } from '../observe/collect.js';
import type { ModelRef } from '../api.js';
import { loadModel, modelKey, releaseModelsExcept } from '../onnx.js';
import { importOperatorModule } from '../config/load.js';
import { registerOperatorHooks } from '../operator-hooks.js';
import { RemoteClient } from '../remote/client.js';
import { FetchMarker } from '../fetch-slots.js';
import { planSteps, slotMarker } from '../step-slots.js';
import { CancelListener } from '../task-cancel.js';
import { transferables, type ExecReply, type ExecTask } from '../wire.js';
import type { Plan } from '../config/plan.js';

/** Versions a worker keeps (LRU). A retailer serves hundreds of pipelines: past this many in rotation every request reloads its pipeline (and may reload its model). */
const MAX_VERSIONS = 1024;
/** What an operator's process.exit(1) exits with (see below). */
const OPERATOR_EXIT = 70;
/** Versions kept per pipeline name: the current one and the one before (requests in flight during a swap). */
const VERSIONS_PER_PIPELINE = 2;
const operators = new Map<string, OperatorDefinition>();
const loadedModules = new Set<string>();
const tables = new Map<string, Table>();
/**
 * `used`: per model slot (a registry binding, or the file) the session key its requests last loaded;
 * `swapped` is set when a slot moved to another session (a registry swap), so the old one can go.
 */
interface Entry { plan: Plan; env: ExecEnv; used: Map<string, string>; swapped: boolean }
const versions = new Map<string, Entry>();
/** The version last moved to the end of `versions`. */
let newest: string | undefined;

/**
 * Evict old versions (LRU, beyond VERSIONS_PER_PIPELINE per name, and those of another name built on
 * a dataset the current version has newer: no request asks for them again, as a reloaded dataset
 * gives every pipeline a new version); true when any went. Without the last rule a version kept its
 * tables (shared memory the main thread had released) until 1024 newer versions came, so each
 * dataset reload left a table behind per pipeline name not run since, and POST /execute, a name per
 * request, made that many.
 */
function evictVersions(current: string, name: string): boolean {
  let evicted = false;
  const same = [...versions].filter(([v, e]) => e.plan.name === name && v !== current);
  for (const [v] of same.slice(0, Math.max(0, same.length - (VERSIONS_PER_PIPELINE - 1)))) evicted = versions.delete(v) || evicted;
  const now = versions.get(current)?.env.datasets;
  if (now) {
    for (const [v, e] of versions) {
      if (e.plan.name === name) continue;
      for (const [ds, t] of e.env.datasets) {
        const newer = now.get(ds);
        if (newer !== undefined && newer !== t) {
          evicted = versions.delete(v) || evicted;
          break;
        }
      }
    }
  }
  while (versions.size > MAX_VERSIONS) evicted = versions.delete(versions.keys().next().value as string) || evicted;
  if (evicted) {
    const live = new Set([...versions.values()].flatMap((v) => [...v.env.datasets.values()]));
    for (const [id, t] of tables) if (!live.has(t)) tables.delete(id);
  }
  return evicted;
}

/** Release every ONNX session no kept version used last: after a swap the old model's memory goes back. */
async function releaseUnusedModels(): Promise<void> {
  const keep = new Set<string>();
  for (const v of versions.values()) for (const k of v.used.values()) keep.add(k);
  await releaseModelsExcept(keep);
  collectAfterRelease?.();
}

/**
 * AIRMAIL_WORKER_GC_AFTER_RELEASE=1: collect this worker's heap after releasing models, so that
 * RSS right after a swap shows what is still held rather than garbage not yet collected (the
 * memory-after-swaps test measures it; serving does not need it).
 */
const collectAfterRelease: (() => void) | undefined = process.env['AIRMAIL_WORKER_GC_AFTER_RELEASE'] === '1'
  ? (() => {
      setFlagsFromString('--expose-gc');
      return runInNewContext('gc') as () => void;
    })()
  : undefined;

async function ensureModules(urls: readonly string[]): Promise<void> {
  for (const url of urls) {
    if (loadedModules.has(url)) continue;
    // Node 20 does not hand module hooks to worker threads, and registering them starts a hooks thread
    // (50-200 ms more per worker start): only a worker that loads an operator folder pays for it.
    if (!initial.includes(url)) registerOperatorHooks();
    for (const def of await importOperatorModule(url)) operators.set(def.name, def);
    loadedModules.add(url);
  }
}

// Exit code 1 is how the pool recognises a worker it stopped on purpose (Worker.terminate()), whose
// task it runs again elsewhere; an operator's own process.exit(1) must not look like that.
const exitProcess = process.exit.bind(process);
process.exit = ((code?: number | string | null) => exitProcess(code === 1 || code === '1' ? OPERATOR_EXIT : code)) as typeof process.exit;

// An error thrown outside any task (a timer an operator left behind) is reported, not fatal: the
// worker and its loaded plans and models stay, and no later request pays for it.
process.on('uncaughtException', (err) => {
  process.emitWarning(`an operator threw outside a request: ${err instanceof Error ? err.message : String(err)}`, { code: 'AIRMAIL_STRAY_ERROR' });
});

const initial = (workerData as { operatorModules?: string[] } | undefined)?.operatorModules ?? [];
await ensureModules(initial);
// Remote sources are fetched by the main thread's broker (one cache, one flight per key for all workers).
const remoteChannel = (workerData as { remoteChannel?: string } | undefined)?.remoteChannel;
useNativeGuard((workerData as { nativeGuard?: SharedArrayBuffer } | undefined)?.nativeGuard);
/** Which step each task is in, read by the pool when it stops a task from outside (step-slots.ts). */
const stepSlots = (workerData as { stepSlots?: SharedArrayBuffer } | undefined)?.stepSlots;
const remoteClient = remoteChannel ? new RemoteClient(remoteChannel) : undefined;
/**
 * Time this worker's task spent with a remote fetch pending (one task at a time): a worker waiting on
 * I/O holds its slot idle (bulkhead.ts). While one is pending the task's slot says since when
 * (fetch-slots.ts), so the pool sees a run waiting now, before it finishes. `taskNo` counts the tasks:
 * a fetch a task left pending (its deadline passed) does not count for the next one.
 */
let fetching = 0;
let fetchSince = 0;
let waitMs = 0;
let taskNo = 0;
const fetchMarks = new FetchMarker((workerData as { fetchSlots?: SharedArrayBuffer } | undefined)?.fetchSlots);
const timed = <T>(p: Promise<T>): Promise<T> => {
  const of = taskNo;
  if (fetching++ === 0) {
    fetchSince = performance.now();
    fetchMarks.waiting();
  }
  return p.finally(() => {
    if (of !== taskNo || --fetching !== 0) return;
    waitMs += performance.now() - fetchSince;
    fetchMarks.idle();
  });
};
/** Tasks cancelled by the pool (their client has gone): the running one stops, and so do its remote fetches. */
const cancelData = workerData as { cancelSlots?: SharedArrayBuffer; cancelChannel?: string } | undefined;
const cancels = cancelData?.cancelSlots && cancelData.cancelChannel ? new CancelListener(cancelData.cancelSlots, cancelData.cancelChannel, () => remoteClient?.cancelPending()) : undefined;
const remote: Pick<ExecEnv, 'remote'> = remoteClient ? { remote: (f, signal, fresh, trace) => timed(remoteClient.fetch(f, signal, fresh, trace)) } : {};

/**
 * A reply and the buffers it moves, as piscina's move() reads them. A class: an object literal's own
 * getters are kept in pairs in the old generation, pointing at the reply (see RequestContext in
 * execute.ts).
 */
class Movable<T> {
  constructor(private readonly value: T, private readonly buffers: ArrayBuffer[]) {}
  get [transferableSymbol](): ArrayBuffer[] {
    return this.buffers;
  }
  get [valueSymbol](): T {
    return this.value;
  }
}

function moveObject<T extends object>(value: T, buffers: ArrayBuffer[]): T {
  return move(new Movable(value, buffers) as unknown as ArrayBuffer) as unknown as T;
}

export default async function run(task: ExecTask): Promise<ExecReply> {
  // The deadline includes queue time: a task that waited past it is not started.
  if (task.deadline !== undefined && Date.now() >= task.deadline) {
    return { kind: 'error', error: { code: 'DEADLINE_EXCEEDED', message: 'the request waited in the queue past its deadline' } };
  }
  let entry = versions.get(task.version);
  if (!entry) {
    // The datasets this worker holds are named in `need`, and their handles are not sent again.
    if (!task.load || task.load.datasets.some((d) => !d.handle && !tables.has(d.id))) return { kind: 'need', has: [...tables.keys()] };
    await ensureModules(task.load.operatorModules);
    const datasets = new Map<string, Table>();
    for (const { id, name, handle } of task.load.datasets) {
      let t = tables.get(id);
      if (!t) {
        t = new Table(handle!);
        tables.set(id, t);
      }
      datasets.set(name, t);
    }
    const used = new Map<string, string>();
    const model = (ref: ModelRef): ReturnType<typeof loadModel> => {
      const key = modelKey(ref);
      const slot = ref.binding ?? key;
      const prev = used.get(slot);
      if (prev !== key) {
        used.set(slot, key);
        if (prev !== undefined && created) created.swapped = true;
      }
      return loadModel(ref);
    };
    planSteps(task.load.plan); // indexes its steps for the step slots
    const created: Entry = { plan: task.load.plan, env: { datasets, operators, model, ...remote }, used, swapped: false };
    entry = created;
    versions.set(task.version, entry);
    newest = task.version;
    if (evictVersions(task.version, entry.plan.name)) await releaseUnusedModels();
  } else if (newest !== task.version) {
    // Moved to the end (LRU) only when it is not there already: each move leaves a deleted slot, and
    // a table full of them is copied, a copy per few requests of one pipeline for the old generation.
    versions.delete(task.version);
    versions.set(task.version, entry);
    newest = task.version;
  }
  const t0 = performance.now();
  waitMs = 0;
  fetching = 0;
  taskNo++;
  fetchMarks.task(task.slot);
  const cancel = cancels && task.slot !== undefined && task.slot >= 0 ? cancels.begin(task.slot) : undefined;
  try {
    // Not an object spread followed by more properties: see executeObserved.
    const onStep = slotMarker(stepSlots, task.slot);
    const opts = Object.assign({ trace: task.trace === true }, task.deadline ? { deadline: task.deadline } : undefined, task.now !== undefined ? { now: task.now } : undefined, task.models ? { models: task.models } : undefined, onStep ? { onStep } : undefined, cancel ? { cancel } : undefined);
    const out = await executeObserved(task.observe, entry.plan, entry.env, task.inputs, opts);
    if (entry.swapped) {
      entry.swapped = false;
      await releaseUnusedModels();
    }
    const reply: ExecReply = { kind: 'ok', out, ms: performance.now() - t0, ...(waitMs > 0 ? { waitMs } : {}) };
    const buffers = transferables(out.columns);
    return buffers.length > 0 ? moveObject(reply, buffers) : reply;
  } catch (err) {
    const observed = reportOf(err);
    return { kind: 'error', error: toWire(asAirmailError(err)), ms: performance.now() - t0, ...(observed ? { observed } : {}), ...(waitMs > 0 ? { waitMs } : {}) };
  } finally {
    fetchMarks.task(-1);
    if (cancel) cancels!.end(cancel);
  }
}
