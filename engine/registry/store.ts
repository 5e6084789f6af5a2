/**
 * The filesystem store and its in-memory index.
 *
 *   root/envelopes/<name>/<version>.json          the envelope, immutable once written
 *   root/envelopes/<name>/<version>.metrics.json  metrics added after publishing (names never replaced)
 *   root/artifacts/<sha256>                       artifact bytes, content-addressed
 *   root/aliases.json                             { name: { alias: version } }
 *
 * Versions are 1, 2, 3… per name. A version file is created with link(2), which fails rather than
 * overwrite, so two publishers (even in two processes) never share a version. The index keeps only
 * summaries (name, version, tags) ordered by publish time, with posting lists per tag value, so a
 * tag query touches only the envelopes its most selective equality clause allows.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { checkEnvelopeLimits, checkMetricLimits } from './limits.js';
import { assertAliasName, assertSafeName, assertValidEnvelope, assertValidMetrics, isSafeName, isSha256, summarize, type Envelope, type EnvelopeDraft, type EnvelopeSummary, type Metrics } from './envelope.js';
import { RegistryError } from './errors.js';
import { sha256Hex, verifySha256 } from './function.js';
import { createAtomic, inside, readNoFollow, writeAtomic } from './fs-safe.js';
import { compileQuery, type CompiledQuery, type TagQuery } from './query.js';

export type ResolveSpec =
  | { readonly query: TagQuery | string; readonly version?: number }
  | { readonly name: string; readonly version: number }
  | { readonly name: string; readonly alias: string };

export interface StoreChange {
  readonly kind: 'publish' | 'alias' | 'metrics' | 'refresh';
  readonly name?: string;
  readonly version?: number;
}

interface Entry { readonly summary: EnvelopeSummary }

/**
 * Publish order, the one order every view of a folder agrees on (the serving store, a file://
 * reader, the same folder reopened): publishedAt, then name, then version. A publish is stamped
 * after every envelope its store knows, so within a store it is also the order of publishing.
 */
function compareEntries(a: Entry, b: Entry): number {
  const x = a.summary;
  const y = b.summary;
  return x.publishedAt < y.publishedAt ? -1 : x.publishedAt > y.publishedAt ? 1 : x.name < y.name ? -1 : x.name > y.name ? 1 : x.version - y.version;
}

/** Inserts into a list kept ascending by compareEntries (appending, the usual case, is O(1)). */
function insertSorted(list: Entry[], e: Entry): void {
  let i = list.length;
  while (i > 0 && compareEntries(list[i - 1]!, e) > 0) i--;
  list.splice(i, 0, e);
}

const VERSION_FILE = /^([1-9][0-9]{0,9})\.json$/;
const CACHE_LIMIT = 512;

export interface QueryOptions { readonly limit?: number; readonly offset?: number }

export class RegistryStore {
  readonly root: string;
  /** Files skipped while scanning (unreadable, invalid, misnamed), for diagnostics. */
  readonly problems: string[] = [];
  private entries: Entry[] = [];
  private readonly byName = new Map<string, Entry[]>();
  private readonly postings = new Map<string, Map<string, Entry[]>>();
  private aliasMap: Record<string, Record<string, number>> = {};
  private aliasMtime = 0;
  private readonly cache = new Map<string, Envelope>();
  private readonly listeners = new Set<(c: StoreChange) => void>();
  private lock: Promise<unknown> = Promise.resolve();
  private rev = 0;
  /** The latest publishedAt of any envelope indexed (ms): a new publish is stamped after it. */
  private latestPublished = 0;

  private constructor(root: string) {
    this.root = root;
  }

  /** Opens (creating when asked) a registry folder and indexes every envelope in it. */
  static async open(root: string, opts: { create?: boolean } = {}): Promise<RegistryStore> {
    const abs = resolve(root);
    if (opts.create) for (const d of ['envelopes', 'artifacts', 'tmp']) await mkdir(resolve(abs, d), { recursive: true });
    let real: string;
    try { real = await realpath(abs); } catch { throw new RegistryError('ENVELOPE_NOT_FOUND', `registry folder ${abs} does not exist`); }
    const store = new RegistryStore(real);
    await store.refresh();
    return store;
  }

  get revision(): number { return this.rev; }
  get size(): number { return this.entries.length; }

  onChange(fn: (c: StoreChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(c: StoreChange): void {
    this.rev++;
    for (const fn of this.listeners) fn(c);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private addEntries(found: EnvelopeSummary[]): void {
    const batch = found.map((summary): Entry => ({ summary })).sort(compareEntries);
    for (const e of batch) {
      const { summary } = e;
      const at = Date.parse(summary.publishedAt);
      if (at > this.latestPublished) this.latestPublished = at;
      insertSorted(this.entries, e);
      const list = this.byName.get(summary.name) ?? [];
      list.push(e);
      list.sort((a, b) => a.summary.version - b.summary.version);
      this.byName.set(summary.name, list);
      for (const [k, v] of Object.entries(summary.index)) {
        let byValue = this.postings.get(k);
        if (!byValue) this.postings.set(k, (byValue = new Map()));
        const p = byValue.get(v);
        if (p) insertSorted(p, e); else byValue.set(v, [e]);
      }
    }
  }

  private async readEnvelopeFile(name: string, version: number): Promise<Envelope | undefined> {
    const buf = await readNoFollow(inside(this.root, 'envelopes', name, `${version}.json`));
    if (!buf) return undefined;
    const env = assertValidEnvelope(JSON.parse(buf.toString('utf8')));
    if (env.name !== name || env.version !== version) throw new Error(`holds ${env.name}@${env.version}`);
    return env;
  }

  /** Picks up envelopes, aliases and metrics written by other processes. True when something changed. */
  async refresh(): Promise<boolean> {
    const found: EnvelopeSummary[] = [];
    let names: string[] = [];
    try {
      names = (await readdir(inside(this.root, 'envelopes'), { withFileTypes: true })).filter((d) => d.isDirectory() && isSafeName(d.name)).map((d) => d.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await Promise.all(names.map(async (name) => {
      const known = new Set((this.byName.get(name) ?? []).map((e) => e.summary.version));
      const files = await readdir(inside(this.root, 'envelopes', name), { withFileTypes: true });
      for (const f of files) {
        const m = VERSION_FILE.exec(f.name);
        if (!m || !f.isFile() || known.has(Number(m[1]))) continue;
        try {
          const env = await this.readEnvelopeFile(name, Number(m[1]));
          if (env) { found.push(summarize(env)); this.remember(env); }
        } catch (err) {
          this.problems.push(`envelopes/${name}/${f.name}: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }));
    this.addEntries(found);
    const aliasesChanged = await this.loadAliases();
    if (found.length || aliasesChanged) this.emit({ kind: 'refresh' });
    return found.length > 0 || aliasesChanged;
  }

  private async loadAliases(): Promise<boolean> {
    const path = inside(this.root, 'aliases.json');
    const st = await stat(path).catch(() => undefined);
    const mtime = st?.mtimeMs ?? 0;
    if (mtime === this.aliasMtime) return false;
    this.aliasMtime = mtime;
    const buf = await readNoFollow(path);
    this.aliasMap = buf ? (JSON.parse(buf.toString('utf8')) as Record<string, Record<string, number>>) : {};
    return true;
  }

  private remember(env: Envelope): void {
    const key = `${env.name}@${env.version}`;
    this.cache.delete(key);
    this.cache.set(key, env);
    if (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
  }

  // ---------------------------------------------------------------- reads

  /** Matching envelopes, newest publish first. */
  query(q: CompiledQuery | TagQuery | string, opts: QueryOptions = {}): EnvelopeSummary[] {
    const cq = isCompiled(q) ? q : compileQuery(q);
    const limit = opts.limit ?? 100;
    let skip = opts.offset ?? 0;
    const out: EnvelopeSummary[] = [];
    if (limit <= 0) return out;
    for (const e of newestFirst(this.candidates(cq))) {
      const s = e.summary;
      if (!cq.test(s.index)) continue;
      if (skip > 0) { skip--; continue; }
      out.push(s);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * The posting lists (each ascending in publish order) of the most selective eq/in condition, or every entry.
   * An `in` keeps one list per value; they are merged lazily, newest first, so nothing is copied.
   */
  private candidates(cq: CompiledQuery): readonly (readonly Entry[])[] {
    let best: readonly (readonly Entry[])[] = [this.entries];
    let bestSize = this.entries.length;
    for (const c of cq.conditions) {
      if (c.op !== 'eq' && c.op !== 'in') continue;
      const byValue = this.postings.get(c.key);
      const lists = [...new Set(c.values)].map((v) => byValue?.get(v) ?? []).filter((l) => l.length > 0);
      let size = 0;
      for (const l of lists) size += l.length;
      if (size < bestSize) { best = lists; bestSize = size; }
    }
    return best;
  }

  names(): string[] { return [...this.byName.keys()].sort(); }

  versions(name: string): EnvelopeSummary[] {
    return (this.byName.get(name) ?? []).map((e) => e.summary).reverse();
  }

  aliases(name: string): Readonly<Record<string, number>> {
    return { ...(this.aliasMap[name] ?? {}) };
  }

  /** The full envelope, with metrics added after publishing merged in. */
  async get(name: string, version: number): Promise<Envelope> {
    assertSafeName(name, 'model name');
    const known = (this.byName.get(name) ?? []).some((e) => e.summary.version === version);
    const notFound = (): never => { throw new RegistryError('ENVELOPE_NOT_FOUND', `no envelope ${name}@${version}`); };
    if (!known || !Number.isInteger(version)) notFound();
    let env = this.cache.get(`${name}@${version}`);
    if (!env) {
      env = (await this.readEnvelopeFile(name, version)) ?? notFound();
      this.remember(env);
    }
    const added = await this.addedMetrics(name, version);
    return Object.keys(added).length ? { ...env, metrics: { ...env.metrics, ...added } } : env;
  }

  private async addedMetrics(name: string, version: number): Promise<Metrics> {
    const buf = await readNoFollow(inside(this.root, 'envelopes', name, `${version}.metrics.json`));
    return buf ? (JSON.parse(buf.toString('utf8')) as Metrics) : {};
  }

  /** Which summary a spec picks, or undefined. Cheap: no file is read. */
  pick(spec: ResolveSpec): EnvelopeSummary | undefined {
    if ('query' in spec) {
      const cq = compileQuery(spec.query);
      if (spec.version === undefined) return this.query(cq, { limit: 1 })[0];
      for (const e of newestFirst(this.candidates(cq))) {
        if (e.summary.version === spec.version && cq.test(e.summary.index)) return e.summary;
      }
      return undefined;
    }
    const version = 'alias' in spec ? this.aliasMap[spec.name]?.[spec.alias] : spec.version;
    return (this.byName.get(spec.name) ?? []).find((e) => e.summary.version === version)?.summary;
  }

  async resolve(spec: ResolveSpec): Promise<Envelope> {
    const s = this.pick(spec);
    if (!s) throw new RegistryError('ENVELOPE_NOT_FOUND', `nothing matches ${describeSpec(spec)}`);
    return this.get(s.name, s.version);
  }

  artifactPath(sha256: string): string {
    if (!isSha256(sha256)) throw new RegistryError('NAME_INVALID', `${JSON.stringify(sha256)} is not a sha256 (64 lowercase hex digits)`);
    return inside(this.root, 'artifacts', sha256);
  }

  /** The artifact's bytes, verified against their name. */
  async readArtifact(sha256: string): Promise<Buffer> {
    const bytes = await readNoFollow(this.artifactPath(sha256));
    if (!bytes) throw new RegistryError('ARTIFACT_NOT_FOUND', `no artifact ${sha256}`);
    verifySha256(bytes, sha256, `stored artifact ${sha256}`);
    return bytes;
  }

  // ---------------------------------------------------------------- writes

  /** Numbers, validates and writes a new version. Nothing is written unless everything checks. */
  publish(draft: EnvelopeDraft, bytes: Uint8Array): Promise<Envelope> {
    return this.serial(async () => {
      verifySha256(bytes, draft.function.artifact.sha256);
      assertSafeName(draft.name, 'model name');
      checkEnvelopeLimits(draft);
      await this.refresh();
      let version = ((this.byName.get(draft.name) ?? []).at(-1)?.summary.version ?? 0) + 1;
      // Stamped after every envelope known (a tie within a millisecond, or a clock behind another
      // publisher's), so "newest publish first" is the order of publishing in every view.
      const publishedAt = new Date(Math.max(Date.now(), this.latestPublished + 1)).toISOString();
      let env = assertValidEnvelope({ ...draft, version, publishedAt });
      await this.writeArtifact(bytes, draft.function.artifact.sha256);
      await mkdir(inside(this.root, 'envelopes', draft.name), { recursive: true });
      for (let attempt = 0; ; attempt++) {
        const path = inside(this.root, 'envelopes', draft.name, `${version}.json`);
        if (await createAtomic(this.root, path, `${JSON.stringify(env, null, 1)}\n`)) break;
        if (attempt > 20) throw new RegistryError('INTERNAL', `could not claim a version for ${draft.name}`);
        version++;
        env = { ...env, version };
      }
      this.remember(env);
      this.addEntries([summarize(env)]);
      this.emit({ kind: 'publish', name: env.name, version: env.version });
      return env;
    });
  }

  private async writeArtifact(bytes: Uint8Array, sha256: string): Promise<void> {
    const path = this.artifactPath(sha256);
    const existing = await readNoFollow(path).catch(() => undefined);
    if (existing && sha256Hex(existing) === sha256) return;
    await writeAtomic(this.root, path, bytes);
  }

  setAlias(name: string, alias: string, version: number): Promise<void> {
    return this.serial(async () => {
      assertAliasName(alias);
      // A version another process wrote to the folder since the last refresh is one to point at too.
      if (!this.pick({ name, version })) await this.refresh();
      if (!this.pick({ name, version })) throw new RegistryError('ENVELOPE_NOT_FOUND', `cannot point ${name}:${alias} at ${name}@${version}: no such version`);
      await this.loadAliases();
      const next = { ...this.aliasMap, [name]: { ...(this.aliasMap[name] ?? {}), [alias]: version } };
      await writeAtomic(this.root, inside(this.root, 'aliases.json'), `${JSON.stringify(next, null, 1)}\n`);
      this.aliasMap = next;
      this.aliasMtime = (await stat(inside(this.root, 'aliases.json'))).mtimeMs;
      this.emit({ kind: 'alias', name, version });
    });
  }

  /** Adds metrics to a published version; a name it already has is a METRIC_CONFLICT. */
  addMetrics(name: string, version: number, metrics: unknown): Promise<Envelope> {
    return this.serial(async () => {
      const current = await this.get(name, version);
      checkMetricLimits(metrics, current.metrics);
      const checked = assertValidMetrics(metrics);
      const clash = Object.keys(checked).filter((k) => Object.hasOwn(current.metrics, k));
      if (clash.length) throw new RegistryError('METRIC_CONFLICT', `${name}@${version} already has metric(s) ${clash.join(', ')}; metrics are added, never replaced`);
      const added = { ...(await this.addedMetrics(name, version)), ...checked };
      await writeAtomic(this.root, inside(this.root, 'envelopes', name, `${version}.metrics.json`), `${JSON.stringify(added)}\n`);
      this.emit({ kind: 'metrics', name, version });
      return this.get(name, version);
    });
  }
}

/** Entries of lists ascending in publish order, newest first (a k-way merge from the tails). */
function* newestFirst(lists: readonly (readonly Entry[])[]): Generator<Entry> {
  if (lists.length === 1) {
    const l = lists[0]!;
    for (let i = l.length - 1; i >= 0; i--) yield l[i]!;
    return;
  }
  const pos = lists.map((l) => l.length - 1);
  for (;;) {
    let best = -1;
    for (let j = 0; j < lists.length; j++) {
      const p = pos[j]!;
      if (p >= 0 && (best < 0 || compareEntries(lists[j]![p]!, lists[best]![pos[best]!]!) > 0)) best = j;
    }
    if (best < 0) return;
    yield lists[best]![pos[best]!--]!;
  }
}

function isCompiled(q: unknown): q is CompiledQuery {
  return typeof q === 'object' && q !== null && typeof (q as CompiledQuery).test === 'function' && Array.isArray((q as CompiledQuery).conditions);
}

export function describeSpec(spec: ResolveSpec): string {
  if ('query' in spec) return `query ${JSON.stringify(compileQuery(spec.query).text)}${spec.version !== undefined ? ` at version ${spec.version}` : ''}`;
  return 'alias' in spec ? `${spec.name}:${spec.alias}` : `${spec.name}@${spec.version}`;
}
