/**
 * Helpers for operator tests: a run context over in-memory datasets and a
 * row set over columns. Operators' tests import from here and from api.ts.
 */
import type { Column, Dataset, ModelRef, ModelRunner, RemoteFetch, RowSet, RunContext } from './api.js';
import { Table, tableFromRows } from './dataset.js';
import { WorkFrame, allRows } from './frame.js';
import { AirmailError } from './errors.js';
import { loadModel } from './onnx.js';

export { Table, tableFromRows } from './dataset.js';
export { WorkFrame, allRows } from './frame.js';

export interface TestContextOptions {
  itemType?: string;
  itemsDataset?: string;
  datasets?: readonly Dataset[];
  inputs?: Record<string, unknown>;
  signal?: AbortSignal;
  /** The remote facility (e.g. `inlineRemote(broker)` from engine/remote); default: fails with SOURCE_FAILED. */
  remote?: (fetch: RemoteFetch, signal: AbortSignal) => Promise<Dataset>;
}

export function testContext(opts: TestContextOptions = {}): RunContext {
  const byName = new Map((opts.datasets ?? []).map((d) => [d.name, d]));
  return {
    itemType: opts.itemType ?? 'sku_id',
    itemsDataset: opts.itemsDataset,
    inputs: opts.inputs ?? {},
    signal: opts.signal ?? new AbortController().signal,
    dataset(name: string): Dataset {
      const d = byName.get(name);
      if (!d) throw new AirmailError('UNKNOWN_DATASET', `no dataset named '${name}'`);
      return d;
    },
    model(ref: ModelRef): Promise<ModelRunner> {
      return loadModel(ref);
    },
    remote(fetch: RemoteFetch): Promise<Dataset> {
      if (opts.remote) return opts.remote(fetch, this.signal);
      return Promise.reject(new AirmailError('SOURCE_FAILED', 'no remote facility in this test context'));
    },
  };
}

/** A row set over the given frame-length columns; `rows` defaults to all rows in order. */
export function testRowSet(key: string, columns: Record<string, Column>, rows?: readonly number[]): RowSet {
  const first = Object.values(columns)[0];
  const n = first === undefined ? 0 : ArrayBuffer.isView(first) ? (first as Int32Array).length : 'codes' in first ? first.codes.length : first.values.length;
  const frame = new WorkFrame(key, n, columns);
  return { frame, rows: rows ? Int32Array.from(rows) : allRows(n) };
}

/** A dataset from JSON rows, for tests. */
export function testDataset(name: string, rows: readonly Record<string, unknown>[], key?: string): Table {
  return tableFromRows(name, rows, key);
}
