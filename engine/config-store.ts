/**
 * The configs directory as a live, versioned snapshot. Any change (edit, add,
 * remove, admin POST/DELETE) is a proposal: the whole candidate set is parsed,
 * loaded and compiled first, and swapped in atomically only if every file is
 * good; otherwise the proposal is rejected, recorded, and the last good
 * snapshot keeps serving. In-flight requests hold the snapshot they started on.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import type { OperatorDefinition } from './api.js';
import type { LeasingResolver as Leasing, ModelLease } from './registry/model-hub.js';
import type { RemoteDatasetLoader } from './remote/datasets.js';
import type { Diagnostic } from './errors.js';
import { DatasetCache, loadConfigSet, type ConfigSource, type LoadResult, type Snapshot } from './config/load.js';
import { OperatorFileWatch, thrownText } from './config/operator-files.js';
import { scanConfigDirWithin, type ConfigDirScan } from './config/dir.js';
import { AdminWrites } from './config/admin-writes.js';
import { DirWatcher } from './config/dir-watch.js';
import { forgetRejections, rejectionsByFile, touchedBy, type Rejection } from './config/rejections.js';
import { ParseCache } from './config/parse-cache.js';
import type { AdminChange, PipelineStatus, ReloadEvent } from './config/store-events.js';

export type { Rejection };

export type { AdminChange, PipelineStatus, ReloadEvent } from './config/store-events.js';

/**
 * How long a changed file must hold still (size, modification time and content hash) before it is
 * proposed, by default. A writer that pauses longer mid-file can still be caught half-way: write a
 * temporary file and rename it into place instead.
 */
export const DEFAULT_SETTLE_MS = 400;
/** rejectedHash's mark for a file whose removal was refused (other files need what it defines): it keeps serving. */
const REMOVED = 'removed';
/** The longest close() waits for a change in progress. */
const CLOSE_WAIT_MS = 5_000;

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export class ConfigStore {
  readonly dir: string;
  private readonly operators: ReadonlyMap<string, OperatorDefinition>;
  private readonly datasetCache = new DatasetCache();
  /** Parsed texts of the files: a reload parses only the files that changed (`parseCache.parsed` counts parses). */
  readonly parseCache = new ParseCache();
  private texts = new Map<string, string>();
  private current: Snapshot = { pipelines: new Map(), datasets: new Map(), operators: new Map(), operatorModules: [], presets: new Map(), contexts: new Map(), datasetIds: new Map() };
  private readonly loadedAt = new Map<string, { version: string; at: string }>();
  private readonly rejections = new Map<string, Rejection>();
  private readonly history: ReloadEvent[] = [];
  private readonly listeners = new Set<(e: ReloadEvent) => void>();
  private readonly adminListeners = new Set<(c: AdminChange) => void>();
  private watcher: DirWatcher | undefined;
  /** Operator files edited, added or fixed since they were loaded (config/operator-files.ts). */
  private readonly operatorWatch = new OperatorFileWatch();
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** Last seen content hash per file that was rejected, so an unchanged broken file is not retried. */
  private readonly rejectedHash = new Map<string, string>();
  /** How long a changed file's content must stay the same before it is proposed. */
  private readonly settleMs: number;
  /** Set by close(): no rescan starts after it. */
  private closed = false;
  /** A rescan waiting in the chain for its turn. */
  private queued: Promise<Diagnostic[]> | undefined;
  /** The model registry configs resolve registry models against, when the engine has one. */
  private readonly models: Leasing | undefined;
  /** Holds the registry models the served snapshot uses; each compile takes its own (the hub releases the rest). */
  private served: ModelLease | undefined;
  /** Reads `redis:` / `http:` datasets (the engine's remote broker). */
  private readonly remoteDatasets: RemoteDatasetLoader | undefined;
  /** The admin API's writes (put, remove, and the dry run of a put). */
  private readonly admin: AdminWrites;

  constructor(dir: string, operators: ReadonlyMap<string, OperatorDefinition>, opts: { settleMs?: number; models?: Leasing; remoteDatasets?: RemoteDatasetLoader } = {}) {
    this.dir = resolve(dir);
    this.remoteDatasets = opts.remoteDatasets;
    this.models = opts.models;
    this.settleMs = opts.settleMs ?? DEFAULT_SETTLE_MS;
    this.operators = operators;
    this.admin = new AdminWrites({
      dir: this.dir,
      texts: () => this.texts,
      pipelines: () => this.current.pipelines,
      serial: (fn) => this.serial(fn),
      propose: (next, changed, o) => this.proposeInner(next, changed, o),
      check: async (next, sealed) => {
        const lease = this.models?.lease?.();
        const r = await loadConfigSet(this.sources(next), this.loadOptions(sealed, lease)).finally(() => lease?.release());
        return r.ok ? [] : r.diagnostics;
      },
      announce: (c) => this.emitAdmin(c),
    });
  }

  get snapshot(): Snapshot { return this.current; }

  status(name: string): PipelineStatus | undefined {
    const p = this.current.pipelines.get(name);
    const l = this.loadedAt.get(name);
    return p && l ? { version: p.version, loadedAt: l.at, file: p.file } : undefined;
  }

  /** The last rejection that touched this file (or pipeline's file), if it is still the latest word on it. */
  rejectionFor(file: string): Rejection | undefined { return this.rejections.get(resolve(file)); }

  allRejections(): Rejection[] { return [...new Set(this.rejections.values())]; }

  reloadHistory(): readonly ReloadEvent[] { return this.history; }

  onReload(fn: (e: ReloadEvent) => void): () => void { this.listeners.add(fn); return () => this.listeners.delete(fn); }

  /** Called after every applied admin put/remove (engine/replicate.ts publishes them to other replicas). */
  onAdmin(fn: (c: AdminChange) => void): () => void { this.adminListeners.add(fn); return () => this.adminListeners.delete(fn); }

  private emitAdmin(c: AdminChange): void { for (const fn of this.adminListeners) fn(c); }

  /**
   * Initial load: serves every file that compiles and returns the problems of the others. A missing
   * configs directory fails fast (CONFIG_INVALID), so a mistyped path never serves nothing quietly.
   */
  async start(): Promise<Diagnostic[]> {
    const scan = await scanConfigDirWithin(this.dir);
    const files = scan.files;
    const all: Diagnostic[] = this.rejectSkipped(scan);
    const held: ModelLease[] = [];
    // One reload event each: the files left out (those the problems name), and the files served.
    const at = new Date().toISOString();
    const left: string[] = [];
    const found: Diagnostic[] = [];
    let loaded = false;
    for (let attempt = 0; attempt < 5; attempt++) {
      const causedBy = new Map<string, readonly string[]>();
      const diags = await this.propose(files, [...files.keys()], held, causedBy);
      found.push(...diags);
      if (diags.length === 0) {
        loaded = true;
        break;
      }
      // A broken operator file is left out through the configs that import its folder: without them
      // every config was rejected, and one bad export stopped every pipeline from serving.
      const blamed = diags.flatMap((d) => (d.file === undefined ? [] : files.has(d.file) ? [d.file] : (causedBy.get(d.file) ?? [])));
      const bad = new Set(blamed.filter((f) => files.has(f)));
      if (bad.size === 0) break;
      for (const f of bad) files.delete(f);
      left.push(...bad);
    }
    for (const l of held) l.release();
    if (found.length > 0) this.reject(at, loaded ? left : [...new Set([...left, ...files.keys()])], found);
    if (loaded && files.size > 0) this.emit({ kind: 'applied', files: [...files.keys()], at });
    all.push(...found);
    // The caller reports them (serve: a warn line of its JSON log; run and validate: on stderr), not a Node warning.
    return all;
  }

  /** Watch the directory: changes take effect within about a second. */
  watch(pollMs = 1000): void {
    this.watcher = new DirWatcher(this.dir, () => this.kick(), async () => (await this.datasetCache.moved()).size > 0);
    this.poll = setInterval(() => void this.rescan(), pollMs);
    this.poll.unref();
  }

  private kick(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.rescan(), 75);
    this.debounce.unref();
  }

  /** Stops watching; waits for a change in progress, but never longer than CLOSE_WAIT_MS. */
  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.debounce);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((r) => {
      timer = setTimeout(r, CLOSE_WAIT_MS);
      timer.unref();
    });
    await Promise.race([this.chain.catch(() => undefined), bound]);
    clearTimeout(timer);
  }

  /** Proposes these files again although their text has not changed (what they needed, e.g. the registry, may answer now). */
  retry(files: Iterable<string>): Promise<Diagnostic[]> {
    for (const f of files) this.rejectedHash.delete(resolve(f));
    return this.rescan();
  }

  /** Re-read the directory and apply what changed (a rescan asked for while one waits to start joins it). */
  rescan(): Promise<Diagnostic[]> {
    this.queued ??= this.serial(async () => {
      this.queued = undefined;
      if (this.closed) return [];
      let scan: ConfigDirScan;
      try {
        scan = await scanConfigDirWithin(this.dir);
      } catch {
        return []; // the directory went away, cannot be read, or hangs: what is loaded keeps serving
      }
      this.forgetGone(scan);
      const skipped = this.rejectSkipped(scan);
      return [...skipped, ...(await this.apply(scan))];
    });
    return this.queued;
  }

  private async apply(scan: ConfigDirScan): Promise<Diagnostic[]> {
    const files = scan.files;
    const changed: string[] = [];
    const emptied: string[] = [];
    for (const [f, t] of files) {
      if (this.texts.get(f) === t || this.rejectedHash.get(f) === hash(t)) continue;
      // An empty file is one being written (editors and `>` truncate first): never activated.
      if (t.trim() === '' && this.texts.has(f)) emptied.push(f);
      else changed.push(f);
    }
    // A file that is now something that cannot be read (a pipe, a link out) is rejected, not removed.
    // A removal already refused is not proposed again at every poll (retryRejected tries it after other changes).
    for (const f of this.texts.keys()) if (!files.has(f) && !scan.skipped.has(f) && this.rejectedHash.get(f) !== REMOVED) changed.push(f);
    if (changed.length + emptied.length > 0 && this.settleMs > 0) {
      // A half-written file is never activated: its size, modification time and content hash
      // must be the same after settleMs (a writer that pauses longer should write and rename).
      await new Promise((r) => setTimeout(r, this.settleMs));
      const again = await scanConfigDirWithin(this.dir).catch(() => undefined);
      if (this.closed) return [];
      const moving = [...changed, ...emptied].filter((f) => again === undefined || again.stamps.get(f) !== scan.stamps.get(f));
      if (moving.length > 0) {
        this.kick();
        return [];
      }
    }
    // A file left empty is said so (replacing what was said about its earlier text), and not applied.
    for (const f of emptied) {
      const t = files.get(f) ?? '';
      this.reject(new Date().toISOString(), [f], [{ code: 'CONFIG_INVALID', file: f, message: 'the file is empty: its last good version keeps serving (delete the file to remove what it defined)' }]);
      this.rejectedHash.set(f, hash(t));
    }
    // A file that was rejected and then restored to its good text clears the rejection; files rejected
    // with it are tried again, so what GET /pipelines says of them no longer includes the restored file's problems.
    const restored = [...files].filter(([f, t]) => this.texts.get(f) === t && this.rejectedHash.has(f));
    for (const [f] of restored) this.resolved(f);
    if (restored.length > 0) this.emit({ kind: 'cleared', files: restored.map(([f]) => f), at: new Date().toISOString() });
    if (changed.length === 0 && restored.length > 0) await this.retryRejected(files, [], true);
    if (changed.length === 0) {
      // A local dataset or operator file changed (configs unchanged): the same configs are loaded
      // again, reading it anew (an edited operator file has a new content-hash URL, see operatorFileUrl).
      const data = await this.datasetCache.changed(this.settleMs);
      if (this.closed) return [];
      const ops = await this.operatorWatch.changed(this.current.operatorModules, (file) => this.resolved(file));
      if (data.length + ops.length === 0) return [];
      // Each file is tried on its own when they fail together (a good and a broken data file written at once).
      const diags = await this.proposeEach([...data, ...ops], () => new Map(this.texts), false);
      // A config rejected for the code or data that just changed (an operator its file could not
      // load, a column the data lacked) is tried again with it, without waiting for its own edit.
      if (diags.length === 0) await this.retryRejected(files, [], true);
      return diags;
    }
    // Unchanged files keep their last good text; changed ones are proposed with the new text.
    const diags = await this.proposeEach(changed, (only) => {
      const next = new Map(this.texts);
      for (const f of only) {
        const t = files.get(f);
        if (t === undefined) next.delete(f);
        else next.set(f, t);
      }
      return next;
    });
    await this.retryRejected(files, changed, restored.length > 0);
    return diags;
  }

  /**
   * One change is one reload attempt: one applied and/or one rejected event (a log line, a count in
   * airmail_config_reloads_total), however many proposals it took to find what is good. `changed`
   * is proposed together (`candidate` gives the texts with the files given changed); when that
   * fails and there are several, each is tried on its own and the good ones are applied.
   */
  private async proposeEach(changed: string[], candidate: (only: readonly string[]) => Map<string, string>, recordHash = true): Promise<Diagnostic[]> {
    const at = new Date().toISOString();
    const held: ModelLease[] = [];
    const diags = await this.proposeInner(candidate(changed), changed, { quiet: true, held, recordHash });
    const applied: string[] = diags.length === 0 ? changed : [];
    const rejected = { files: [] as string[], diagnostics: [] as Diagnostic[] };
    const attempts: Rejection[] = [];
    if (diags.length > 0 && changed.length > 1) {
      for (const f of changed) {
        const d = await this.proposeInner(candidate([f]), [f], { quiet: true, held, recordHash });
        if (d.length > 0) rejected.diagnostics.push(...d);
        if (d.length > 0 && this.rejections.has(f)) attempts.push(this.rejections.get(f)!);
        (d.length === 0 ? applied : rejected.files).push(f);
      }
    } else if (diags.length > 0) Object.assign(rejected, { files: changed, diagnostics: diags });
    // Each attempt recorded itself under every file it named: a file named by two (its own problems, and as a
    // user of another file's broken preset) shows both, not only the last.
    for (const [f, r] of rejectionsByFile(attempts)) this.rejections.set(f, r);
    for (const l of held) l.release();
    if (applied.length > 0) this.emit({ kind: 'applied', files: applied, at });
    if (rejected.files.length > 0) this.emit({ kind: 'rejected', files: rejected.files, at, diagnostics: rejected.diagnostics });
    return diags;
  }

  /**
   * After a change was applied, files rejected earlier with their text unchanged are proposed once
   * more: one may have failed only for what the others held then (a new file that made the items
   * dataset ambiguous until the other files named theirs).
   */
  private async retryRejected(files: ReadonlyMap<string, string>, changed: readonly string[], always = false): Promise<void> {
    if (!always && !changed.some((f) => this.texts.get(f) === files.get(f))) return;
    const again = [...this.rejectedHash.keys()].filter((f) => !changed.includes(f) && files.has(f) && this.texts.get(f) !== files.get(f) && files.get(f)!.trim() !== '');
    const removed = [...this.rejectedHash].filter(([f, h]) => h === REMOVED && !changed.includes(f) && !files.has(f)).map(([f]) => f);
    if (again.length + removed.length === 0) return;
    const next = new Map(this.texts);
    for (const f of again) next.set(f, files.get(f)!);
    for (const f of removed) next.delete(f);
    again.push(...removed);
    // Still refused: the same text was already counted and logged when it was first rejected.
    if ((await this.proposeInner(next, again, { quiet: true })).length === 0) this.emit({ kind: 'applied', files: again, at: new Date().toISOString() });
  }

  /** Dry run of an admin put of `name` (config/admin-writes.ts): exactly what put() would answer, applying nothing. */
  validatePut(name: string, text: string): Promise<Diagnostic[]> { return this.admin.validatePut(name, text); }

  /** Admin: write `text` (as sent) to the pipeline's file if, and only if, the set still compiles. */
  put(name: string, text: string, origin?: string): Promise<Diagnostic[]> { return this.admin.put(name, text, origin); }

  /** Admin: remove a pipeline's file (it must hold only that pipeline). */
  remove(name: string, origin?: string): Promise<Diagnostic[] | 'not-found'> { return this.admin.remove(name, origin); }

  private loadOptions(sealed?: ReadonlySet<string>, lease?: ModelLease, proposed?: readonly string[]): Parameters<typeof loadConfigSet>[1] {
    const models = lease ?? this.models;
    return { operators: this.operators, datasetCache: this.datasetCache, parseCache: this.parseCache, ...(sealed ? { sealed } : {}), ...(models ? { models } : {}), ...(this.remoteDatasets ? { remoteDatasets: this.remoteDatasets } : {}), ...(proposed ? { heldDataset: this.datasetCache.holding(this.current, new Set(proposed)) } : {}) };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** A startup load attempt (start() sums its rejections up and emits the reload events). */
  private propose(next: Map<string, string>, changed: string[], held: ModelLease[], causedBy: Map<string, readonly string[]>): Promise<Diagnostic[]> { return this.serial(() => this.proposeInner(next, changed, { held, quiet: true, startup: causedBy })); }

  /** `quiet`: recorded for GET /pipelines, but the caller emits the reload event (see apply). */
  private reject(at: string, changed: readonly string[], diagnostics: readonly Diagnostic[], quiet = false): void {
    const rej: Rejection = { at, files: changed, diagnostics };
    for (const f of touchedBy(rej)) this.rejections.set(f, rej);
    if (!quiet) this.emit({ kind: 'rejected', files: changed, at, diagnostics });
  }

  /**
   * Entries named like configs that cannot be read (a pipe, a device, a folder, a link out of the
   * directory, a file too large) are rejected, once per reason; a loaded file's last good version keeps serving.
   */
  private rejectSkipped(scan: ConfigDirScan): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const [f, why] of scan.skipped) {
      const key = `skipped:${why}`;
      if (this.rejectedHash.get(f) === key) continue;
      const d: Diagnostic = { code: 'CONFIG_INVALID', file: f, message: `${relative(this.dir, f)} ${why}; it is not read${this.texts.has(f) ? ', and its last good version keeps serving' : ''}` };
      this.reject(new Date().toISOString(), [f], [d]);
      this.rejectedHash.set(f, key);
      out.push(d);
    }
    return out;
  }

  /**
   * `file` is good again (fixed, restored or applied). Its rejection goes, and so does every
   * rejection it caused in other files (the pipelines a broken dataset or preset file failed are
   * keyed by their own files too), unless another file that rejection names is still rejected.
   */
  private resolved(file: string): void {
    this.rejectedHash.delete(file);
    const done = new Set<Rejection>();
    for (const r of this.rejections.values()) if (r.files.includes(file) && r.files.every((f) => !this.rejectedHash.has(f))) done.add(r);
    for (const [k, r] of this.rejections) if (k === file || done.has(r)) this.rejections.delete(k);
  }

  /** Rejections and rejected texts of files that are gone (removed, renamed, or no longer configs) are forgotten. */
  private forgetGone(scan: ConfigDirScan): void {
    // A file still served although missing (its removal was refused) keeps its rejection until it is back or removed for good.
    const gone = (f: string): boolean => !this.texts.has(f) && (dirname(f) === this.dir ? !scan.files.has(f) && !scan.skipped.has(f) : !existsSync(f));
    // A dataset or model file removed is what its rejection is about: it keeps naming it until it is back.
    forgetRejections(this.rejections, gone, (f) => gone(f) && !existsSync(f) && !this.datasetCache.watching(f));
    for (const f of [...this.rejectedHash.keys()]) if (gone(f)) this.rejectedHash.delete(f);
  }

  private sources(files: Map<string, string>): ConfigSource[] {
    return [...files].sort(([a], [b]) => a.localeCompare(b)).map(([path, text]) => ({ path, text }));
  }

  /**
   * Load `next` and swap it in if it is good. `recordHash`: remember a rejected text so it is not
   * retried unchanged; `keep`: record a rejection on GET /pipelines and emit its reload event (false
   * for a refused admin request, which is answered instead); `quiet`: emit no reload event, the caller does (one per
   * reload attempt, see apply).
   */
  private async proposeInner(next: Map<string, string>, changed: string[], opts: { recordHash?: boolean; sealed?: ReadonlySet<string>; keep?: boolean; quiet?: boolean; held?: ModelLease[]; startup?: Map<string, readonly string[]> } = {}): Promise<Diagnostic[]> {
    const at = new Date().toISOString();
    const lease = this.models?.lease?.();
    // An unexpected exception (a bug, or an operator file throwing something odd from a getter) is a
    // rejection like any other: INTERNAL, the changed files named, the last good set kept serving.
    // Thrown on, it left a reload neither applied nor rejected, with no log line and no rejection.
    const r = await loadConfigSet(this.sources(next), this.loadOptions(opts.sealed, lease, changed)).catch((err: unknown): LoadResult => unexpectedLoadFailure(changed, err));
    // A startup attempt tries the operator files against every config (the whole set, then without
    // the files it blames): the watch must not take them for changes and reload the same set again.
    this.operatorWatch.folders(r.ok ? r.snapshot.operatorFolders : r.operatorFolders, opts.startup && !r.ok ? r.operatorVersions : []);
    if (!r.ok) {
      for (const [f, by] of r.causedBy ?? []) opts.startup?.set(f, by);
      // A caller that tries parts of this set next keeps its models until then (else released now).
      if (lease) void (opts.held ? opts.held.push(lease) : lease.release());
      // A refused admin request (keep: false) is answered and audited, and wrote nothing: it is no
      // reload, so it leaves no reload event (history, log line, count) naming a file never written.
      if (opts.keep !== false) this.reject(at, changed, r.diagnostics, opts.quiet);
      if (opts.recordHash !== false) for (const f of changed) {
        const t = next.get(f);
        this.rejectedHash.set(f, t === undefined ? REMOVED : hash(t));
      }
      return r.diagnostics;
    }
    this.texts = next;
    this.current = r.snapshot;
    this.datasetCache.retain(new Set([...r.snapshot.datasetIds].map(([n, id]) => `${n}@${id}`)));
    const before = this.served;
    this.served = lease;
    before?.release();
    for (const f of changed) this.resolved(f);
    for (const [name, p] of r.snapshot.pipelines) {
      const prev = this.loadedAt.get(name);
      if (!prev || prev.version !== p.version) this.loadedAt.set(name, { version: p.version, at });
    }
    for (const name of this.loadedAt.keys()) if (!r.snapshot.pipelines.has(name)) this.loadedAt.delete(name);
    if (!opts.quiet) this.emit({ kind: 'applied', files: changed, at });
    return [];
  }

  private emit(e: ReloadEvent): void {
    this.history.push(e);
    if (this.history.length > 100) this.history.shift();
    for (const fn of this.listeners) fn(e);
  }
}

/** A load that threw: one INTERNAL diagnostic per changed file, saying what was thrown. */
function unexpectedLoadFailure(changed: readonly string[], err: unknown): LoadResult {
  const message = `loading the configs failed unexpectedly (please report it): ${err instanceof Error ? '' : 'it threw '}${thrownText(err)}`;
  const files = changed.length > 0 ? changed : [undefined];
  return { ok: false, diagnostics: files.map((file): Diagnostic => ({ code: 'INTERNAL', ...(file !== undefined ? { file } : {}), message })) };
}
