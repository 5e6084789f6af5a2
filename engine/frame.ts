/**
 * The frame of one request: candidate rows keyed by the item type. Columns
 * are added (never changed in place) as operators hydrate or score rows; each
 * column covers the whole frame, and only live rows hold meaningful values.
 */
import type { Column, Dataset, Frame, FrameItems, NumericArray } from './api.js';
import { columnLength, gather, gatherOrNull, isNumeric } from './api.js';
import { AirmailError } from './errors.js';

export class WorkFrame implements Frame {
  readonly length: number;
  readonly key: string;
  private readonly cols = new Map<string, Column>();
  /** Items-dataset columns promised for these rows, gathered on first read. */
  private readonly lazy = new Map<string, Int32Array>();
  private itemsInfo: { dataset: Dataset; keyColumn: string; rowOf?: Int32Array } | undefined;
  /** The frame shares its columns with other requests' frames (see share()). */
  private shared = false;
  /** Columns that hold the items dataset's values unchanged (hydrated, not computed). */
  private readonly fromItems = new Set<string>();

  constructor(key: string, length: number, columns: Readonly<Record<string, Column>> = {}) {
    this.key = key;
    this.length = length;
    for (const [name, col] of Object.entries(columns)) this.set(name, col);
  }

  get columnNames(): readonly string[] {
    return [...this.cols.keys(), ...this.lazy.keys()];
  }

  has(column: string): boolean {
    return this.cols.has(column) || this.lazy.has(column);
  }

  column(name: string): Column {
    const c = this.cols.get(name) ?? this.materialize(name);
    if (!c) {
      throw new AirmailError('UNKNOWN_COLUMN', `the frame has no column '${name}' (it has: ${this.columnNames.join(', ')})`);
    }
    return c;
  }

  /** Name the dataset the frame's items live in, keyed by `keyColumn` there. */
  attachItems(dataset: Dataset, keyColumn: string): void {
    this.itemsInfo = { dataset, keyColumn };
  }

  items(): FrameItems | undefined {
    const info = this.itemsInfo;
    if (!info) return undefined;
    return {
      dataset: info.dataset,
      rowsOf: (frameRows) => {
        const all = (info.rowOf ??= info.dataset.findRows(info.keyColumn, this.column(this.key)));
        const out = new Int32Array(frameRows.length);
        for (let k = 0; k < frameRows.length; k++) out[k] = all[frameRows[k]!]!;
        return out;
      },
      isDatasetColumn: (c) => this.fromItems.has(c),
      sharedRows: () => (this.shared ? info.rowOf : undefined),
    };
  }

  /** A frame of just `rows` (in that order), every column gathered; item provenance kept. */
  compact(rows: Int32Array): WorkFrame {
    const out = new WorkFrame(this.key, rows.length);
    for (const name of [...this.lazy.keys()]) this.materialize(name);
    for (const [name, col] of this.cols) out.cols.set(name, gather(col, rows));
    for (const c of this.fromItems) out.fromItems.add(c);
    if (this.itemsInfo) {
      const info = this.itemsInfo;
      out.itemsInfo = { dataset: info.dataset, keyColumn: info.keyColumn, ...(info.rowOf ? { rowOf: gather(info.rowOf, rows) as Int32Array } : {}) };
    }
    return out;
  }

  /** A frame over the same (never mutated) columns, to which a request may add its own. */
  share(): WorkFrame {
    const out = new WorkFrame(this.key, this.length);
    for (const [name, col] of this.cols) out.cols.set(name, col);
    for (const [name, rows] of this.lazy) out.lazy.set(name, rows);
    for (const c of this.fromItems) out.fromItems.add(c);
    if (this.itemsInfo) {
      // The dataset rows of the shared rows: worked out once, here, so every share holds the same array.
      const info = this.itemsInfo;
      info.rowOf ??= info.dataset.findRows(info.keyColumn, this.column(this.key));
      out.itemsInfo = { ...info };
    }
    out.shared = true;
    return out;
  }

  /** Add a column gathered from the items dataset for `rows` (see items()). */
  hydrateFromItems(name: string, rows: Int32Array, values: Column): void {
    this.scatter(name, rows, values);
    this.fromItems.add(name);
  }

  /**
   * Promise the items dataset's column `name` for `rows`, gathered only if
   * someone reads it (an operator that scores item rows directly never does).
   */
  hydrateLazily(name: string, rows: Int32Array): void {
    if (!this.itemsInfo) throw new AirmailError('INTERNAL', `cannot hydrate '${name}': the frame has no items dataset`);
    this.lazy.set(name, rows);
    this.fromItems.add(name);
  }

  private materialize(name: string): Column | undefined {
    const rows = this.lazy.get(name);
    const items = rows && this.items();
    if (!rows || !items) return undefined;
    this.lazy.delete(name);
    this.hydrateFromItems(name, rows, gatherOrNull(items.dataset.column(name), items.rowsOf(rows)));
    return this.cols.get(name);
  }

  /** Add or replace a frame-length column. */
  set(name: string, col: Column): void {
    this.fromItems.delete(name);
    this.lazy.delete(name);
    if (columnLength(col) !== this.length) {
      throw new AirmailError('INTERNAL', `column '${name}' has ${columnLength(col)} rows, frame has ${this.length}`);
    }
    this.cols.set(name, col);
  }

  /**
   * Add a column given only for `rows` (aligned with it): values land at
   * their frame positions; other rows hold NaN / null.
   */
  scatter(name: string, rows: Int32Array, values: Column): void {
    if (this.lazy.has(name)) this.materialize(name);
    this.fromItems.delete(name);
    const prev = this.cols.get(name);
    if (isNumeric(values)) {
      const Ctor = values.constructor as { new (n: number): NumericArray };
      const out = prev && isNumeric(prev) && prev.constructor === values.constructor ? (prev.slice() as NumericArray) : new Ctor(this.length);
      if (!prev && !(out instanceof Int32Array)) out.fill(NaN);
      for (let k = 0; k < rows.length; k++) out[rows[k]!] = values[k]!;
      this.cols.set(name, out);
      return;
    }
    if (values.kind === 'dict') {
      const codes = new Int32Array(this.length).fill(-1);
      if (prev && !isNumeric(prev) && prev.kind === 'dict' && prev.dictionary === values.dictionary) codes.set(prev.codes);
      for (let k = 0; k < rows.length; k++) codes[rows[k]!] = values.codes[k]!;
      this.cols.set(name, { kind: 'dict', codes, dictionary: values.dictionary });
      return;
    }
    const out = new Array<string | null>(this.length).fill(null);
    for (let k = 0; k < rows.length; k++) out[rows[k]!] = values.values[k] ?? null;
    this.cols.set(name, { kind: 'string', values: out });
  }
}

/** All row indices 0..n-1. */
export function allRows(n: number): Int32Array {
  const r = new Int32Array(n);
  for (let i = 0; i < n; i++) r[i] = i;
  return r;
}
