/**
 * The configs directory as a live, versioned snapshot. Any change (edit, add,
 * remove, admin POST/DELETE) is a proposal: the whole candidate set is parsed,
 * loaded and compiled first, and swapped in atomically only if every file is
 * good; otherwise the proposal is rejected, recorded, and the last good
 * snapshot keeps serving. In-flight requests hold the snapshot they started on.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { ModelResolver, OperatorDefinition } from './api.js';
import type { RemoteDatasetLoader } from './remote/datasets.js';
import { formatDiagnostic, type Diagnostic } from './errors.js';
import { DatasetCache, loadConfigSet, type ConfigSource, type Snapshot } from './config/load.js';

export interface Rejection {
  readonly at: string;
  readonly files: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
}

export interface PipelineStatus {
  readonly version: string;
  readonly loadedAt: string;
  readonly file: string;
}

export interface ReloadEvent {
  readonly kind: 'applied' | 'rejected';
  readonly files: readonly string[];
  readonly at: string;
  readonly diagnostics?: readonly Diagnostic[];
}

/** An admin change that was applied (POST/DELETE /pipelines, or a replica applying one); `origin` says who asked. */
export interface AdminChange {
  readonly op: 'put' | 'remove';
  readonly name: string;
  /** The new file text (put only). */
  readonly text?: string;
  readonly origin?: string;
}

const CONFIG_EXT = new Set(['.yaml', '.yml', '.json']);

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export class ConfigStore {
  readonly dir: string;
  private readonly operators: ReadonlyMap<string, OperatorDefinition>;
  private readonly datasetCache = new DatasetCache();
  private texts = new Map<string, string>();
  private current: Snapshot = { pipelines: new Map(), datasets: new Map(), operators: new Map(), operatorModules: [], presets: new Map(), contexts: new Map(), datasetIds: new Map() };
  private readonly loadedAt = new Map<string, { version: string; at: string }>();
  private readonly rejections = new Map<string, Rejection>();
  private readonly history: ReloadEvent[] = [];
  private readonly listeners = new Set<(e: ReloadEvent) => void>();
  private readonly adminListeners = new Set<(c: AdminChange) => void>();
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** Last seen content hash per file that was rejected, so an unchanged broken file is not retried. */
  private readonly rejectedHash = new Map<string, string>();

  /** How long a changed file's content must stay the same before it is proposed. */
  private readonly settleMs: number;

  /** The model registry configs resolve registry models against, when the engine has one. */
  private readonly models: ModelResolver | undefined;

  /** Reads `redis:` / `http:` datasets (the engine's remote broker). */
  private readonly remoteDatasets: RemoteDatasetLoader | undefined;

  constructor(dir: string, operators: ReadonlyMap<string, OperatorDefinition>, opts: { settleMs?: number; models?: ModelResolver; remoteDatasets?: RemoteDatasetLoader } = {}) {
    this.dir = resolve(dir);
    this.remoteDatasets = opts.remoteDatasets;
    this.models = opts.models;
    this.settleMs = opts.settleMs ?? 50;
    this.operators = operators;
  }

  get snapshot(): Snapshot {
    return this.current;
  }

  status(name: string): PipelineStatus | undefined {
    const p = this.current.pipelines.get(name);
    const l = this.loadedAt.get(name);
    return p && l ? { version: p.version, loadedAt: l.at, file: p.file } : undefined;
  }

  /** The last rejection that touched this file (or pipeline's file), if it is still the latest word on it. */
  rejectionFor(file: string): Rejection | undefined {
    return this.rejections.get(resolve(file));
  }

  allRejections(): Rejection[] {
    return [...new Set(this.rejections.values())];
  }

  reloadHistory(): readonly ReloadEvent[] {
    return this.history;
  }

  onReload(fn: (e: ReloadEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called after every applied admin put/remove (engine/replicate.ts publishes them to other replicas). */
  onAdmin(fn: (c: AdminChange) => void): () => void {
    this.adminListeners.add(fn);
    return () => this.adminListeners.delete(fn);
  }

  private emitAdmin(c: AdminChange): void {
    for (const fn of this.adminListeners) fn(c);
  }

  /** Initial load: fails fast with every diagnostic when the directory does not compile. */
  async start(): Promise<Diagnostic[]> {
    const files = await this.readDir();
    const all: Diagnostic[] = [];
    // Serve every file that compiles; broken ones are reported and left out.
    for (let attempt = 0; attempt < 5; attempt++) {
      const diags = await this.propose(files, [...files.keys()]);
      all.push(...diags);
      if (diags.length === 0) break;
      const bad = new Set(diags.map((d) => d.file).filter((f): f is string => !!f));
      if (bad.size === 0) break;
      for (const f of bad) files.delete(f);
    }
    return all;
  }

  /** Watch the directory: changes take effect within about a second. */
  watch(pollMs = 1000): void {
    try {
      this.watcher = watch(this.dir, { persistent: false }, () => this.kick());
      this.watcher.on('error', () => undefined);
    } catch {
      // fall back to polling only
    }
    this.poll = setInterval(() => void this.rescan(), pollMs);
    this.poll.unref();
  }

  private kick(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.rescan(), 75);
    this.debounce.unref();
  }

  async close(): Promise<void> {
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.debounce);
    await this.chain.catch(() => undefined);
  }

  /** Re-read the directory and apply what changed. */
  rescan(): Promise<Diagnostic[]> {
    return this.serial(async () => {
      const files = await this.readDir();
      const changed: string[] = [];
      for (const [f, t] of files) {
        // An empty file is one being written (editors and `>` truncate first): never activated.
        if (t.trim() === '' && this.texts.has(f)) continue;
        if (this.texts.get(f) !== t && this.rejectedHash.get(f) !== hash(t)) changed.push(f);
      }
      for (const f of this.texts.keys()) if (!files.has(f)) changed.push(f);
      if (changed.length > 0 && this.settleMs > 0) {
        // A half-written file is never activated: the content must hold still for settleMs.
        await new Promise((r) => setTimeout(r, this.settleMs));
        const again = await this.readDir();
        const moving = changed.filter((f) => again.get(f) !== files.get(f));
        if (moving.length > 0) {
          this.kick();
          return [];
        }
      }
      // A file that was rejected and then restored to its good text clears the rejection.
      for (const [f, t] of files) if (this.texts.get(f) === t && this.rejectedHash.has(f)) {
        this.rejectedHash.delete(f);
        this.rejections.delete(f);
      }
      if (changed.length === 0) return [];
      // Unchanged files keep their last good text; changed ones are proposed with the new text.
      const next = new Map(this.texts);
      for (const f of changed) {
        const t = files.get(f);
        if (t === undefined) next.delete(f);
        else next.set(f, t);
      }
      const diags = await this.proposeInner(next, changed);
      if (diags.length === 0 || changed.length === 1) return diags;
      // Several files changed and the set failed: apply the ones that are good on their own.
      for (const f of changed) {
        const one = new Map(this.texts);
        const t = files.get(f);
        if (t === undefined) one.delete(f);
        else one.set(f, t);
        await this.proposeInner(one, [f]);
      }
      return diags;
    });
  }

  /** Proposes these files again although their text has not changed (what they needed, e.g. the registry, may answer now). */
  retry(files: Iterable<string>): Promise<Diagnostic[]> {
    for (const f of files) this.rejectedHash.delete(resolve(f));
    return this.rescan();
  }

  /** Check a config without applying it (dry run). */
  async validate(file: string, text: string): Promise<Diagnostic[]> {
    const next = new Map(this.texts);
    next.set(resolve(file), text);
    const r = await loadConfigSet(this.sources(next), { operators: this.operators, datasetCache: this.datasetCache, sealed: new Set([resolve(file)]), ...(this.models ? { models: this.models } : {}), ...(this.remoteDatasets ? { remoteDatasets: this.remoteDatasets } : {}) });
    return r.ok ? [] : r.diagnostics.filter((d) => d.file === resolve(file) || d.file === undefined);
  }

  /** Admin: write `text` as `<name>.yaml` if, and only if, the set still compiles. */
  put(name: string, text: string, origin?: string): Promise<Diagnostic[]> {
    return this.serial(async () => {
      const existing = this.current.pipelines.get(name)?.file;
      const file = existing ?? join(this.dir, `${name}.yaml`);
      const next = new Map(this.texts);
      next.set(file, text);
      // Sent over HTTP: it may name installed operators, loaded datasets and registry models only.
      const diags = await this.proposeInner(next, [file], false, new Set([file]));
      if (diags.length === 0) {
        await atomicWrite(file, text);
        this.emitAdmin({ op: 'put', name, text, ...(origin ? { origin } : {}) });
      }
      return diags;
    });
  }

  /** Admin: remove a pipeline's file (it must hold only that pipeline). */
  remove(name: string, origin?: string): Promise<Diagnostic[] | 'not-found'> {
    return this.serial(async () => {
      const p = this.current.pipelines.get(name);
      if (!p) return 'not-found';
      const others = [...this.current.pipelines.values()].filter((q) => q.file === p.file && q.name !== name);
      if (others.length > 0) {
        return [{ code: 'CONFIG_INVALID', file: p.file, message: `pipeline '${name}' shares ${p.file} with ${others.map((o) => o.name).join(', ')}; edit that file instead` }];
      }
      const next = new Map(this.texts);
      next.delete(p.file);
      const diags = await this.proposeInner(next, [p.file], false);
      if (diags.length === 0) {
        await rm(p.file, { force: true });
        this.emitAdmin({ op: 'remove', name, ...(origin ? { origin } : {}) });
      }
      return diags;
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private propose(next: Map<string, string>, changed: string[]): Promise<Diagnostic[]> {
    return this.serial(() => this.proposeInner(next, changed));
  }

  private sources(files: Map<string, string>): ConfigSource[] {
    return [...files].sort(([a], [b]) => a.localeCompare(b)).map(([path, text]) => ({ path, text }));
  }

  private async proposeInner(next: Map<string, string>, changed: string[], recordHash = true, sealed?: ReadonlySet<string>): Promise<Diagnostic[]> {
    const at = new Date().toISOString();
    const r = await loadConfigSet(this.sources(next), { operators: this.operators, datasetCache: this.datasetCache, ...(sealed ? { sealed } : {}), ...(this.models ? { models: this.models } : {}), ...(this.remoteDatasets ? { remoteDatasets: this.remoteDatasets } : {}) });
    if (!r.ok) {
      const rej: Rejection = { at, files: changed, diagnostics: r.diagnostics };
      const touched = new Set([...changed, ...r.diagnostics.map((d) => d.file).filter((f): f is string => !!f)]);
      for (const f of touched) this.rejections.set(f, rej);
      if (recordHash) for (const f of changed) {
        const t = next.get(f);
        if (t !== undefined) this.rejectedHash.set(f, hash(t));
      }
      this.emit({ kind: 'rejected', files: changed, at, diagnostics: r.diagnostics });
      process.emitWarning(`config rejected, last good version keeps serving:\n${r.diagnostics.map(formatDiagnostic).join('\n')}`, { code: 'AIRMAIL_CONFIG_REJECTED' });
      return r.diagnostics;
    }
    this.texts = next;
    this.current = r.snapshot;
    for (const f of changed) {
      this.rejections.delete(f);
      this.rejectedHash.delete(f);
    }
    for (const [name, p] of r.snapshot.pipelines) {
      const prev = this.loadedAt.get(name);
      if (!prev || prev.version !== p.version) this.loadedAt.set(name, { version: p.version, at });
    }
    for (const name of this.loadedAt.keys()) if (!r.snapshot.pipelines.has(name)) this.loadedAt.delete(name);
    this.emit({ kind: 'applied', files: changed, at });
    return [];
  }

  private emit(e: ReloadEvent): void {
    this.history.push(e);
    if (this.history.length > 100) this.history.shift();
    for (const fn of this.listeners) fn(e);
  }

  private async readDir(): Promise<Map<string, string>> {
    await mkdir(this.dir, { recursive: true });
    const out = new Map<string, string>();
    for (const n of (await readdir(this.dir)).sort()) {
      if (!CONFIG_EXT.has(extname(n).toLowerCase()) || n.startsWith('.')) continue;
      const p = join(this.dir, n);
      try {
        out.set(p, await readFile(p, 'utf8'));
      } catch {
        // removed between readdir and read: treated as absent
      }
    }
    return out;
  }
}

export async function atomicWrite(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}
