/**
 * Dataset files a load read, by content identity (path + bytes hash + key + format + declared
 * columns), and the files watched for changes (datasets, models, files not there yet).
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { loadDatasetFile, type DeclaredColumns, type Table } from '../dataset.js';
import { AirmailError } from '../errors.js';
import type { LoadOptions, Snapshot } from './load.js';
import type { DatasetConfig } from './schema.js';

/** Loaded datasets by content identity (path + bytes hash + key + format). */
export class DatasetCache {
  private readonly byId = new Map<string, Promise<Table>>();
  private readonly hashes = new Map<string, { mtimeMs: number; size: number; hash: string }>();
  private readonly reported = new Map<string, string>();
  /** The file each loaded `name@id` was read from. */
  private readonly paths = new Map<string, string>();

  /**
   * LoadOptions.heldDataset for a load proposing `proposed` over the `served` snapshot: a served
   * dataset whose file now fails to load keeps serving in loads that do not propose that file (its
   * own change was rejected, or has not settled yet), as a rejected config file keeps its last good
   * text, so one broken data file does not refuse every other edit. Same name, same file, same key,
   * format and declared columns; a load that proposes the file reads it, and fails.
   */
  holding(served: Pick<Snapshot, 'datasets' | 'datasetIds'>, proposed: ReadonlySet<string>): NonNullable<LoadOptions['heldDataset']> {
    return (name, path, id) => {
      const servedId = served.datasetIds.get(name);
      const table = served.datasets.get(name);
      if (proposed.has(path) || !servedId || !table || this.paths.get(`${name}@${servedId}`) !== path) return undefined;
      if (id !== undefined && id.slice(id.indexOf(':')) !== servedId.slice(servedId.indexOf(':'))) return undefined;
      return { table, id: servedId };
    };
  }

  async identity(path: string, cfg: DatasetConfig): Promise<string> {
    const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
      // A file not there yet is watched too: its arrival (in a folder made later too) reloads the configs.
      if (err.code === 'ENOENT' && !this.hashes.has(path)) this.hashes.set(path, { mtimeMs: NaN, size: -1, hash: '' });
      throw err;
    });
    // A named pipe or device would block the load (and every reload queued behind it) forever.
    if (!st.isFile()) throw new AirmailError('DATASET_LOAD_FAILED', `${path} is not a regular file; a dataset is read from a file`);
    const prev = this.hashes.get(path);
    let hash = prev && prev.mtimeMs === st.mtimeMs && prev.size === st.size ? prev.hash : undefined;
    if (!hash) {
      hash = createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 16);
      this.hashes.set(path, { mtimeMs: st.mtimeMs, size: st.size, hash });
    }
    const format = formatOf(path, cfg);
    // Declared columns type what a file reads (a CSV cell, a JSON timestamp), so they are part of what was loaded.
    return `${hash}:${cfg.key ?? ''}:${format}${cfg.columns ? `:${JSON.stringify(cfg.columns)}` : ''}`;
  }

  load(name: string, path: string, cfg: DatasetConfig, id: string): Promise<Table> {
    const k = `${name}@${id}`;
    this.paths.set(k, path);
    let p = this.byId.get(k);
    if (!p) {
      p = loadDatasetFile(name, path, formatOf(path, cfg), cfg.key, declaredColumns(cfg.columns));
      this.byId.set(k, p);
      p.catch(() => this.byId.delete(k));
    }
    return p;
  }

  /**
   * Local dataset files read before whose size or modification time differs now (each new state is
   * reported once, so a file that stays broken is not reloaded every poll). Like a config file, a
   * changed one is reported only once its size and modification time held still for `settleMs`: a
   * CSV caught half-written (`cp` truncates, then writes) can parse, and would serve its first rows
   * only. While any is still moving, none is reported (the next poll looks again).
   */
  async changed(settleMs = 0): Promise<string[]> {
    const moved = await this.moved();
    if (moved.size > 0 && settleMs > 0) {
      await new Promise((r) => setTimeout(r, settleMs));
      for (const [path, now] of moved) if ((await statStamp(path)) !== now) return [];
    }
    for (const [path, now] of moved) this.reported.set(path, now);
    return [...moved.keys()];
  }

  /**
   * A model file a pipeline read (at `stamp`, `mtimeMs:size`): watched like a dataset file, so that
   * replacing it in place reloads the configs (a new pinned copy, a new version) once it held still.
   */
  watchFile(path: string, stamp: string): void {
    // 'missing': a file not there yet (moved() reports its arrival).
    const [mtimeMs, size] = stamp === 'missing' ? [NaN, -1] : (stamp.split(':').map(Number) as [number, number]);
    const prev = this.hashes.get(path);
    if (!prev || !Object.is(prev.mtimeMs, mtimeMs) || prev.size !== size) this.hashes.set(path, { mtimeMs, size, hash: '' });
  }

  /** Whether `path` is a dataset or model file read by a load (a removed one is a rejection, not a file gone). */
  watching(path: string): boolean {
    return this.hashes.has(path);
  }

  /** Files whose size or modification time moved since read (and not yet reported), path → stamp now. */
  async moved(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [path, prev] of this.hashes) {
      const now = await statStamp(path);
      const then = Number.isNaN(prev.mtimeMs) ? 'missing' : `${prev.mtimeMs}:${prev.size}`;
      if (now !== then && this.reported.get(path) !== now) out.set(path, now);
    }
    return out;
  }

  /**
   * Forget datasets not in `keep` (ids from the active snapshot). ConfigStore calls it after each
   * swap: before it did, a dataset file edited again and again kept every table it was ever loaded as.
   */
  retain(keep: ReadonlySet<string>): void {
    for (const k of this.byId.keys()) if (!keep.has(k)) this.byId.delete(k);
    for (const k of this.paths.keys()) if (!keep.has(k)) this.paths.delete(k);
  }
}

async function statStamp(path: string): Promise<string> {
  const st = await stat(path).catch(() => undefined);
  return st ? `${st.mtimeMs}:${st.size}` : 'missing';
}

/** `date` is another name of `timestamp`: one type of instants. */
export function declaredColumns(cols: DatasetConfig['columns']): DeclaredColumns | undefined {
  return cols && Object.fromEntries(Object.entries(cols).map(([c, t]) => [c, (t as string) === 'date' ? 'timestamp' : t]));
}

export function formatOf(path: string, cfg: DatasetConfig): 'arrow' | 'json' | 'csv' {
  if (cfg.format) return cfg.format;
  const ext = extname(path).toLowerCase();
  return ext === '.json' ? 'json' : ext === '.csv' ? 'csv' : 'arrow';
}
