/**
 * A registry folder read (and written) in place: the same API as the HTTP client without a server,
 * so an embedded engine can use `file:///srv/registry` or a plain path. Artifacts are served from the
 * folder itself after a sha256 check (once per process per artifact). Watching polls the folder, and
 * also fires at once for publishes made through this same object.
 */
import { fileURLToPath } from 'node:url';
import type { ArtifactRef, Envelope, EnvelopeSummary } from '../engine/registry/envelope.js';
import { RegistryError } from '../engine/registry/errors.js';
import { prepareEnvelope, type PublishRequest } from '../engine/registry/publish.js';
import type { TagQuery } from '../engine/registry/query.js';
import { RegistryStore, type QueryOptions, type ResolveSpec } from '../engine/registry/store.js';
import { artifactOf, tokenOf, type ChangeListener, type RegistryWriter, type WatchHandle, type WatchOptions } from './reader.js';

export function folderOf(pathOrUrl: string): string {
  return pathOrUrl.startsWith('file:') ? fileURLToPath(pathOrUrl) : pathOrUrl;
}

export class FileRegistry implements RegistryWriter {
  readonly location: string;
  readonly store: RegistryStore;
  private readonly verified = new Set<string>();

  private constructor(store: RegistryStore) {
    this.store = store;
    this.location = store.root;
  }

  /** Opens a registry folder; `create` makes an empty one when it does not exist. */
  static async open(pathOrUrl: string, opts: { create?: boolean } = {}): Promise<FileRegistry> {
    return new FileRegistry(await RegistryStore.open(folderOf(pathOrUrl), opts));
  }

  async query(q: TagQuery | string, opts: QueryOptions = {}): Promise<EnvelopeSummary[]> {
    await this.store.refresh();
    return this.store.query(q, opts);
  }

  async resolve(spec: ResolveSpec): Promise<Envelope> {
    await this.store.refresh();
    return this.store.resolve(spec);
  }

  async download(ref: Pick<Envelope, 'function'> | ArtifactRef): Promise<string> {
    const { sha256 } = artifactOf(ref);
    if (!this.verified.has(sha256)) {
      await this.store.readArtifact(sha256);
      this.verified.add(sha256);
    }
    return this.store.artifactPath(sha256);
  }

  readArtifact(ref: Pick<Envelope, 'function'> | ArtifactRef): Promise<Uint8Array> {
    return this.store.readArtifact(artifactOf(ref).sha256);
  }

  async publish(req: PublishRequest): Promise<Envelope> {
    const { draft, bytes } = await prepareEnvelope(req);
    return this.store.publish(draft, bytes);
  }

  addMetrics(name: string, version: number, metrics: unknown): Promise<Envelope> {
    return this.store.addMetrics(name, version, metrics);
  }

  setAlias(name: string, alias: string, version: number): Promise<void> {
    return this.store.setAlias(name, alias, version);
  }

  watch(spec: ResolveSpec, onChange: ChangeListener, opts: WatchOptions = {}): WatchHandle {
    const pollMs = opts.pollMs ?? 1000;
    let token = opts.since === undefined ? tokenOf(this.store.pick(spec)) : tokenOf(opts.since);
    let stopped = false;
    let busy = false;
    const check = async (): Promise<void> => {
      if (stopped || busy) return;
      busy = true;
      try {
        const now = this.store.pick(spec);
        const next = tokenOf(now);
        if (next !== token) {
          token = next;
          const env = now ? await this.store.get(now.name, now.version) : null;
          if (!stopped) onChange(env);
        }
      } catch (err) {
        opts.onError?.(err as Error);
      } finally {
        busy = false;
      }
    };
    const off = this.store.onChange(() => void check());
    const timer = setInterval(() => { void this.store.refresh().then(check, (err: Error) => opts.onError?.(err)); }, pollMs);
    timer.unref();
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => { resolveClosed = r; });
    const close = (): void => { if (stopped) return; stopped = true; clearInterval(timer); off(); resolveClosed(); };
    opts.signal?.addEventListener('abort', close, { once: true });
    if (opts.since !== undefined) void check();
    return { mode: 'poll', close, closed };
  }

  async close(): Promise<void> {
    /* nothing held open */
  }
}

/** Guards against treating an unknown scheme as a folder. */
export function assertFolderLocation(s: string): void {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) && !s.startsWith('file://')) {
    throw new RegistryError('QUERY_INVALID', `unsupported registry location ${s}: use http(s)://, file:// or a folder path`);
  }
}
