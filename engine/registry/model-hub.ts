/**
 * The engine's side of the registry: every model spec a config names (tags, alias or pinned
 * version) becomes a *binding* that points at one loaded, warmed envelope. A binding is resolved
 * when the config compiles; unless it is pinned, it is then watched, and a newer matching envelope
 * is downloaded (sha256 verified), loaded and warmed before the binding moves to it. A candidate
 * that fails any step, whose input columns differ from what its pipelines and deployments compiled
 * against, whose first output (a pipeline's score) is text while a pipeline uses it, or that a
 * deployment could not serve (ModelHubOptions.vet), is rejected (recorded in
 * `rejections`) and the old model keeps serving.
 *
 * Requests take `refs` once when they start (an immutable table binding → {path, version}), so a
 * request in flight finishes on the model it started with; workers load the path they are given.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ModelRef, ModelResolver, ModelSpec, ResolvedModel } from '../api.js';
import { AirmailError } from '../errors.js';
import { openRegistry } from '../../registry-client/open.js';
import type { RegistryReader, WatchHandle } from '../../registry-client/reader.js';
import type { ColumnValues, LoadedFunction } from './function.js';
import { checkTimeoutMs, loadFunction } from './function.js';
import type { Envelope } from './envelope.js';
import { formatQuery } from './query.js';
import { redactText } from '../redact.js';
import type { ResolveSpec } from './store.js';

export interface ModelHubOptions {
  /** http(s):// URL, file:// URL or a folder. */
  readonly location: string;
  /** Artifact cache folder for an HTTP registry (default: AIRMAIL_CACHE or ~/.cache/airmail/artifacts). */
  readonly cacheDir?: string;
  /** Poll interval where the registry cannot long-poll (folders), ms. Default 250. */
  readonly pollMs?: number;
  /**
   * Where swap and rejection lines go (default: stderr). `event` says what the line is, for a
   * structured log: the engine writes them as JSON lines (info for a swap, warn for the rest).
   */
  readonly log?: (line: string, event: ModelLogEvent) => void;
  /** Time limit of loading and warming one version, ms (default: AIRMAIL_MODEL_CHECK_MS or 20 s). */
  readonly checkTimeoutMs?: number;
  /**
   * Asked before a newer version swaps into a binding (after the shape check, before the download):
   * why what uses the binding could not serve it (a deployment's feature source the engine cannot
   * read, say), or undefined. A refusal is a rejection; the old version keeps serving.
   */
  readonly vet?: (binding: string, next: Envelope) => { readonly code: string; readonly reason: string } | undefined;
}

/** What a ModelHub log line is about: `model` is the binding (its tag query or name), `from`/`to` labels. */
export interface ModelLogEvent {
  readonly level: 'info' | 'warn';
  readonly event: 'swap' | 'rejected' | 'swap_failed' | 'watch_failed' | 'registry_unavailable';
  readonly model: string;
  readonly from?: string;
  readonly to?: string;
  readonly code?: string;
}

/** A model ready to serve: its envelope, the verified local artifact, and a main-thread instance. */
export interface LoadedModel {
  readonly envelope: Envelope;
  /** `name@version`. */
  readonly label: string;
  /** Local file holding the verified artifact (what workers load). */
  readonly path: string;
  readonly fn: LoadedFunction;
}

export interface ModelRejection {
  readonly at: string;
  readonly binding: string;
  readonly candidate: string;
  readonly code: string;
  readonly reason: string;
  /** What the binding serves (`deployment 'psale'`, `pipeline 'home'`) when the candidate was rejected. */
  readonly used_by: readonly string[];
}

export interface ModelSwap {
  readonly at: string;
  readonly binding: string;
  readonly from: string;
  readonly to: string;
}

interface Binding {
  readonly key: string;
  /** bindingKey(spec): bindings of one spec differ only in the input shape they serve. */
  readonly base: string;
  readonly spec: ResolveSpec;
  current: LoadedModel;
  watch: WatchHandle | undefined;
  /** Serializes candidate loads so swaps happen in publish order. */
  chain: Promise<void>;
  /** Candidates (`name@version`) already rejected: not loaded again when a compile names them. */
  readonly rejected: Set<string>;
  /** Leases (compiles, served snapshots) holding it: at 0, once a lease is released, it is released too. */
  holders: number;
  /** Set when released: a swap already under way is dropped. */
  released: boolean;
  /** Held by a watching lease (a config's): once released, its spec is watched for a config refused for it. */
  watched: boolean;
}

/**
 * A resolver that holds every binding it resolves until release(): a compile takes one, and the
 * snapshot it produced keeps it while served. A binding no lease holds (one only a refused or
 * replaced config used) is released: its watch stops, its model closes, its rejections go.
 */
export interface ModelLease extends ModelResolver {
  release(): void;
}

export interface LeaseOptions {
  /**
   * Watch what this lease's compile asked for and did not get (a spec matching nothing, a binding
   * released), so that a config refused for it is tried again when the registry changes (default
   * true). A pipeline sent with a request (POST /execute) is never tried again: no watch, or a
   * client naming ever-new tags would leave a registry watch (a poll timer, an event stream) per name.
   */
  readonly watch?: boolean;
}

/** A resolver that may hand out leases (the ModelHub does; a plain resolver's bindings are never released). */
export type LeasingResolver = ModelResolver & { lease?(opts?: LeaseOptions): ModelLease };

const WARM_ROWS = 4;
/** How long a model no longer in the table stays open for requests that took it before. */
const RELEASE_DELAY_MS = 30_000;

/** The canonical key of a spec: equal specs share one binding. */
export function bindingKey(spec: ModelSpec): string {
  if ('tags' in spec) return `tags:${formatQuery(spec.tags)}${spec.version !== undefined ? `@${spec.version}` : ''}`;
  if ('alias' in spec) return `alias:${spec.name}:${spec.alias}`;
  return `version:${spec.name}@${spec.version}`;
}

export function resolveSpecOf(spec: ModelSpec): ResolveSpec {
  if ('tags' in spec) return spec.version !== undefined ? { query: spec.tags, version: spec.version } : { query: spec.tags };
  return 'alias' in spec ? { name: spec.name, alias: spec.alias } : { name: spec.name, version: spec.version };
}

/** Same flavor and input columns: a version a compiled pipeline can move to. */
/** An input's name, and whether it is text: a numeric input turned text cannot be fed by ModelScore. */
function inputKey(c: { name: string; type: string }): string {
  return c.type === 'string' || c.type === 'bool' ? `${c.name}:text` : c.name;
}

function inputList(e: Envelope): string {
  return e.function.inputs.map((c) => (inputKey(c) === c.name ? c.name : `${c.name} (${c.type})`)).join(', ');
}

function sameShape(a: Envelope, b: Envelope): boolean {
  const x = a.function.inputs;
  const y = b.function.inputs;
  return a.function.flavor === b.function.flavor && x.length === y.length && x.every((c, i) => inputKey(c) === inputKey(y[i]!));
}

function shapeId(e: Envelope): string {
  return createHash('sha256').update(`${e.function.flavor}:${e.function.inputs.map(inputKey).join(',')}`).digest('hex').slice(0, 8);
}

/** MODEL_LOAD_FAILED, but REGISTRY_UNAVAILABLE (502) when the registry could not be asked: a dependency failure, not the config's. */
function asModelError(err: unknown, label: string): AirmailError {
  const e = err as { code?: unknown; message?: unknown };
  if (e?.code === 'REGISTRY_UNAVAILABLE') return new AirmailError('REGISTRY_UNAVAILABLE', `${label}: ${String(e.message)}`, { details: { registryCode: e.code }, cause: err });
  const code = e?.code === 'ENVELOPE_NOT_FOUND' || e?.code === 'ARTIFACT_CORRUPT' || e?.code === 'ARTIFACT_NOT_FOUND' ? String(e.code) : 'MODEL_LOAD_FAILED';
  return new AirmailError('MODEL_LOAD_FAILED', `${label}: ${String(e?.message ?? err)}`, { details: { registryCode: code }, cause: err });
}

/** Inputs for a warm-up run: each input at its sample mean (0 when the envelope has no statistics). */
export function warmColumns(envelope: Envelope, rows = WARM_ROWS): Record<string, ColumnValues> {
  const out: Record<string, ColumnValues> = {};
  for (const c of envelope.function.inputs) {
    const st = envelope.data.features[c.name];
    if (c.type === 'string') out[c.name] = Array.from({ length: rows }, () => st?.top?.[0]?.value ?? '');
    else if (c.type === 'bool') out[c.name] = Array.from({ length: rows }, () => false);
    else out[c.name] = new Float64Array(rows).fill(st?.mean ?? 0);
  }
  return out;
}

export class ModelHub implements ModelResolver {
  readonly location: string;
  readonly rejections: ModelRejection[] = [];
  readonly swaps: ModelSwap[] = [];
  private readonly registry: Promise<RegistryReader>;
  private readonly bindings = new Map<string, Binding>();
  private readonly pending = new Map<string, Promise<Binding>>();
  private readonly listeners = new Set<(s: ModelSwap) => void>();
  /** Specs a compile asked for that matched nothing, watched until they match (base key → watch). */
  private readonly missing = new Map<string, WatchHandle>();
  private readonly appeared = new Set<(binding: string) => void>();
  private readonly pollMs: number;
  private readonly checkMs: number;
  /** Functions being loaded or warmed: close() stops them rather than waiting. */
  private readonly loading = new Set<LoadedFunction>();
  private readonly log: (line: string, event: ModelLogEvent) => void;
  private readonly vet: ModelHubOptions['vet'];
  /** Live leases: binding → what uses it (`pipeline 'x'`, `deployment 'y'`) through that lease. */
  private readonly leases = new Set<Map<string, Set<string>>>();
  private table: Readonly<Record<string, ModelRef>> = Object.freeze({});
  private closed = false;

  constructor(opts: ModelHubOptions) {
    this.location = opts.location;
    this.pollMs = opts.pollMs ?? 250;
    this.checkMs = opts.checkTimeoutMs ?? checkTimeoutMs();
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
    this.vet = opts.vet;
    this.registry = openRegistry(opts.location, opts.cacheDir ? { cacheDir: opts.cacheDir } : {});
    this.registry.catch(() => undefined);
  }

  /** binding → the model a request starting now uses. Replaced (never mutated) on every swap. */
  get refs(): Readonly<Record<string, ModelRef>> {
    return this.table;
  }

  current(binding: string): LoadedModel | undefined {
    return this.bindings.get(binding)?.current;
  }

  onSwap(fn: (s: ModelSwap) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * The registry's answer to a model a compile asked for changed: a binding swapped, or a spec that
   * matched nothing now matches. A config refused for what the registry held may load now.
   */
  onRegistryChange(fn: (binding: string) => void): () => void {
    const offSwap = this.onSwap((s) => fn(s.binding));
    this.appeared.add(fn);
    return () => { offSwap(); this.appeared.delete(fn); };
  }

  /**
   * Watches a spec that matched nothing, once, until it matches (then onRegistryChange hears of it);
   * or, `since` an envelope, a released spec until its answer changes (a config refused for it may load then).
   */
  private watchMissing(base: string, rs: ResolveSpec, since: Envelope | null = null): void {
    if (this.closed || this.missing.has(base) || [...this.bindings.values()].some((b) => b.base === base)) return;
    void this.registry.then((reg) => {
      if (this.closed || this.missing.has(base)) return;
      const w = reg.watch(rs, (next) => {
        if (!next) return;
        w.close();
        this.missing.delete(base);
        for (const fn of this.appeared) fn(base);
      }, { since, pollMs: this.pollMs });
      this.missing.set(base, w);
    }, () => undefined);
  }

  /**
   * Resolves a spec (config compile time) against the registry's answer now: a binding already
   * serving a version of the same shape is reused (and moved to that answer if it is newer); a newer
   * answer whose inputs differ gets a binding of its own, so the config being compiled adopts it
   * while pipelines compiled against the old shape keep theirs. With the registry away, an existing
   * binding keeps serving what it has.
   */
  async resolve(spec: ModelSpec): Promise<ResolvedModel> {
    return this.resolveHeld(spec, undefined, undefined);
  }

  /** What uses a binding through the live leases (`deployment 'psale'`, `pipeline 'home'`), sorted. */
  usersOf(binding: string): string[] {
    const out = new Set<string>();
    for (const l of this.leases) for (const u of l.get(binding) ?? []) out.add(u);
    return [...out].sort();
  }

  /** How many specs are watched for a config refused for them (see watchMissing). */
  get watchingMissing(): number {
    return this.missing.size;
  }

  /** A resolver whose bindings stay loaded and watched until it is released (see ModelLease). */
  lease(opts: LeaseOptions = {}): ModelLease {
    const watch = opts.watch !== false;
    const held = new Map<string, Set<string>>();
    this.leases.add(held);
    let released = false;
    return {
      resolve: (spec, user) => this.resolveHeld(spec, () => released ? undefined : held, user, watch),
      release: () => {
        if (released) return;
        released = true;
        this.leases.delete(held);
        for (const k of held.keys()) { const b = this.bindings.get(k); if (b) b.holders--; }
        this.sweep();
      },
    };
  }

  /** Releases every binding no lease holds (none is being created: a compile still running holds what it resolved). */
  private sweep(): void {
    let gone = false;
    for (const [k, b] of this.bindings) {
      if (b.holders > 0 || this.pending.has(k)) continue;
      this.bindings.delete(k);
      b.released = gone = true;
      b.watch?.close();
      for (let i = this.rejections.length - 1; i >= 0; i--) if (this.rejections[i]!.binding === k) this.rejections.splice(i, 1);
      // Requests that took the table before may still be predicting on the main thread: close it a little later.
      void b.chain.then(() => { setTimeout(() => void b.current.fn.close().catch(() => undefined), RELEASE_DELAY_MS).unref(); });
      if (b.watched && ![...this.bindings.values()].some((x) => x.base === b.base)) this.watchMissing(b.base, b.spec, b.current.envelope);
    }
    if (gone) this.publishTable();
  }

  private async resolveHeld(spec: ModelSpec, holder: (() => Map<string, Set<string>> | undefined) | undefined, user: string | undefined, watch = true): Promise<ResolvedModel> {
    const base = bindingKey(spec);
    const rs = resolveSpecOf(spec);
    const family = [...this.bindings.values()].filter((b) => b.base === base);
    const pinned = 'version' in rs && rs.version !== undefined;
    // Held as soon as it is chosen, so a lease released meanwhile cannot release it under this compile.
    const hold = (x: Binding): boolean => {
      if (this.bindings.get(x.key) !== x) return false;
      const held = holder?.();
      if (held && !held.has(x.key)) { held.set(x.key, new Set()); x.holders++; }
      if (watch) x.watched = true;
      if (user) held?.get(x.key)?.add(user);
      return true;
    };
    let b: Binding | undefined = pinned ? family[0] : undefined;
    if (b) hold(b);
    else {
      let envelope: Envelope | undefined;
      try {
        envelope = await (await this.registry).resolve(rs);
      } catch (err) {
        // A folder registry's path is the server's own: reasons reach clients, which learn no server path.
        const where = /^https?:\/\//i.test(this.location) ? `the registry at ${redactText(this.location)}` : 'the folder registry';
        const e = asModelError(err, `no model for ${base} in ${where}`);
        const newest = family.sort((x, y) => y.current.envelope.version - x.current.envelope.version)[0];
        if (watch && e.details?.['registryCode'] === 'ENVELOPE_NOT_FOUND') this.watchMissing(base, rs);
        if (e.code !== 'REGISTRY_UNAVAILABLE' || !newest) throw e;
        this.log(`model ${base}: ${e.message}; ${newest.current.label} keeps serving`, { level: 'warn', event: 'registry_unavailable', model: base, from: newest.current.label, code: e.code });
        b = newest;
        hold(b);
      }
      if (envelope) {
        const now = envelope;
        b = family.find((x) => sameShape(x.current.envelope, now));
        if (b && hold(b)) {
          if (b.current.label !== `${now.name}@${now.version}` && !b.rejected.has(`${now.name}@${now.version}`)) {
            this.offer(b, now);
            await b.chain;
          }
        } else {
          const key = !this.bindings.has(base) ? base : `${base}#${shapeId(now)}`;
          let p = this.pending.get(key);
          if (!p) {
            p = this.bind(key, base, rs, now);
            this.pending.set(key, p);
            p.then(() => this.pending.delete(key), () => this.pending.delete(key));
          }
          b = await p;
          hold(b);
        }
      }
    }
    // Released while this resolve waited (the last lease holding it went): resolve again.
    if (this.bindings.get(b!.key) !== b) return this.resolveHeld(spec, holder, user, watch);
    const e = b!.current.envelope;
    return { binding: b!.key, name: e.name, version: e.version, flavor: e.function.flavor, inputs: e.function.inputs, outputs: e.function.outputs, ...(e.data.source ? { featureSource: e.data.source } : {}) };
  }

  private async bind(key: string, base: string, rs: ResolveSpec, envelope: Envelope): Promise<Binding> {
    const reg = await this.registry;
    const current = await this.load(reg, envelope);
    const b: Binding = { key, base, spec: rs, current, watch: undefined, chain: Promise.resolve(), rejected: new Set(), holders: 0, released: false, watched: false };
    this.bindings.set(key, b);
    this.publishTable();
    const pinned = 'version' in rs && rs.version !== undefined;
    if (!pinned && !this.closed) {
      // An unreachable registry is logged once per distinct error, not once per retry.
      let last = '';
      const onError = (err: Error): void => { if (err.message !== last) this.log(`model watch ${key}: ${(last = err.message)}`, { level: 'warn', event: 'watch_failed', model: key }); };
      b.watch = reg.watch(rs, (next) => { last = ''; if (next) this.offer(b, next); }, { since: envelope, pollMs: this.pollMs, onError });
    }
    return b;
  }

  /** Download (verified), load and warm one envelope. */
  private async load(reg: RegistryReader, envelope: Envelope): Promise<LoadedModel> {
    const label = `${envelope.name}@${envelope.version}`;
    let fn: LoadedFunction | undefined;
    try {
      const path = await reg.download(envelope);
      fn = await loadFunction(envelope, await readFile(path), { timeoutMs: this.checkMs });
      this.loading.add(fn);
      const out = await fn.predict(warmColumns(envelope), WARM_ROWS, { timeoutMs: this.checkMs }).catch((err: Error) => {
        throw new AirmailError('MODEL_LOAD_FAILED', `warm-up failed: ${err.message}`);
      });
      for (const o of envelope.function.outputs) {
        const col = out[o.name];
        if (!col || col.length !== WARM_ROWS) throw new AirmailError('MODEL_LOAD_FAILED', `warm-up returned ${col ? col.length : 'no'} values of output '${o.name}' for ${WARM_ROWS} rows`);
        if (typeof col[0] === 'number' && !Array.from(col as ArrayLike<number>).every(Number.isFinite)) throw new AirmailError('MODEL_LOAD_FAILED', `warm-up gave non-finite values of output '${o.name}'`);
      }
      return { envelope, label, path, fn };
    } catch (err) {
      await fn?.close().catch(() => undefined);
      throw asModelError(err, `${label} cannot serve`);
    } finally {
      if (fn) this.loading.delete(fn);
    }
  }

  /** A newer envelope matches: load it beside the old one and swap only if it is good. */
  private offer(b: Binding, next: Envelope): void {
    b.chain = b.chain.then(async () => {
      if (this.closed || b.released) return;
      const from = b.current;
      const label = `${next.name}@${next.version}`;
      if (next.name === from.envelope.name && next.version === from.envelope.version) return;
      const reject = (code: string, reason: string): void => {
        b.rejected.add(label);
        this.rejections.push({ at: new Date().toISOString(), binding: b.key, candidate: label, code, reason, used_by: this.usersOf(b.key) });
        if (this.rejections.length > 100) this.rejections.shift();
        this.log(`model ${label} rejected for ${b.key}, ${from.label} keeps serving: ${reason}`, { level: 'warn', event: 'rejected', model: b.key, from: from.label, to: label, code });
      };
      if (!sameShape(from.envelope, next)) {
        const users = this.usersOf(b.key);
        const who = users.length > 1 ? `${users.slice(0, -1).join(', ')} and ${users.at(-1)!}` : users[0] ?? 'what uses it';
        reject('MODEL_LOAD_FAILED', `its inputs (${next.function.flavor}: ${inputList(next)}) differ from those of ${from.label} (${from.envelope.function.flavor}: ${inputList(from.envelope)}), which ${who} ${users.length === 1 ? 'was' : 'were'} compiled against; ${users.length === 1 ? 'it keeps' : 'they keep'} ${from.label}. A config that is loaded or reloaded from now on (or a pipeline sent with a request) resolves the tags again and takes ${label}, if it provides its inputs`);
        return;
      }
      // Pipelines score by the first output (ModelScore): a text one would answer null scores, not fail.
      const score = next.function.outputs[0];
      const pipelines = this.usersOf(b.key).filter((u) => u.startsWith('pipeline '));
      if (score && (score.type === 'string' || score.type === 'bool') && pipelines.length) {
        reject('MODEL_LOAD_FAILED', `its first output '${score.name}' is ${score.type}, and ${pipelines.join(', ')} ${pipelines.length === 1 ? 'scores' : 'score'} by the first output, which must be a number; ${from.label} keeps serving. Publish a version whose first output is numeric`);
        return;
      }
      const refused = this.vet?.(b.key, next);
      if (refused) { reject(refused.code, refused.reason); return; }
      let loaded: LoadedModel;
      try {
        loaded = await this.load(await this.registry, next);
      } catch (err) {
        // The registry's own code when it said why (ARTIFACT_CORRUPT: the bytes do not match their sha256), not the wrapper's.
        const e = err as AirmailError;
        const registryCode = e.details?.registryCode;
        reject(typeof registryCode === 'string' ? registryCode : e.code ?? 'MODEL_LOAD_FAILED', e.message);
        return;
      }
      if (this.closed || b.released) { await loaded.fn.close(); return; }
      b.current = loaded;
      this.publishTable();
      const swap: ModelSwap = { at: new Date().toISOString(), binding: b.key, from: from.label, to: loaded.label };
      this.swaps.push(swap);
      if (this.swaps.length > 100) this.swaps.shift();
      this.log(`model ${b.key}: ${from.label} → ${loaded.label}`, { level: 'info', event: 'swap', model: b.key, from: from.label, to: loaded.label });
      for (const fn of this.listeners) fn(swap);
      // Requests that took the old table may still be predicting on the main thread: close it a little later.
      setTimeout(() => void from.fn.close().catch(() => undefined), RELEASE_DELAY_MS).unref();
    }).catch((err: Error) => this.log(`model swap ${b.key} failed: ${err.message}`, { level: 'warn', event: 'swap_failed', model: b.key }));
  }

  private publishTable(): void {
    const t: Record<string, ModelRef> = {};
    for (const [k, b] of this.bindings) {
      const fn = b.current.envelope.function;
      t[k] = Object.freeze({
        path: b.current.path,
        version: b.current.label,
        ...(fn.flavor === 'js' ? { flavor: 'js' as const, inputs: fn.inputs.map((c) => c.name), output: fn.outputs[0]?.name ?? '', sha256: fn.artifact.sha256 } : {}),
        // An onnx envelope published with a selector scores by it (psale=probabilities[1]).
        ...(fn.flavor === 'onnx' && fn.outputs[0]?.output !== undefined ? { output: fn.outputs[0].output, ...(fn.outputs[0].column !== undefined ? { column: fn.outputs[0].column } : {}) } : {}),
      });
    }
    this.table = Object.freeze(t);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const b of this.bindings.values()) b.watch?.close();
    for (const w of this.missing.values()) w.close();
    for (const fn of this.loading) void fn.close().catch(() => undefined);
    await Promise.all([...this.bindings.values()].map(async (b) => { await b.chain; await b.current.fn.close().catch(() => undefined); }));
    const reg = await this.registry.catch(() => undefined);
    await reg?.close();
  }
}
