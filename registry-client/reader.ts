/**
 * What the engine needs from a registry, whether it is a server (RegistryClient, over HTTP) or a
 * folder read in place (FileRegistry, no server): query, resolve, fetch the verified artifact, and
 * hear when the answer to a resolve spec changes.
 */
import type { ArtifactRef, Envelope, EnvelopeSummary } from '../engine/registry/envelope.js';
import type { PublishTarget } from '../engine/registry/publish.js';
import type { TagQuery } from '../engine/registry/query.js';
import type { QueryOptions, ResolveSpec } from '../engine/registry/store.js';

export type { ResolveSpec, QueryOptions } from '../engine/registry/store.js';
export type { TagQuery } from '../engine/registry/query.js';

export interface WatchOptions {
  /** The answer the caller already has (e.g. what it resolved at start); changes are relative to it. Omit: the first answer is the baseline and is not reported. */
  readonly since?: Pick<Envelope, 'name' | 'version'> | null;
  /** Poll interval when long-polling is not available (and for folders), ms. Default 1000. */
  readonly pollMs?: number;
  /** Long-poll wait per request, ms. Default 25000. */
  readonly waitMs?: number;
  /** How to start (HTTP registries): 'sse' (default) falls back to 'long-poll', which falls back to 'poll'. */
  readonly mode?: WatchMode;
  readonly signal?: AbortSignal;
  /** Called when a check fails (the watch keeps going). */
  readonly onError?: (err: Error) => void;
}

/** How a watch hears changes: an event stream, long polls, or plain polling. */
export type WatchMode = 'sse' | 'long-poll' | 'poll';

export interface WatchHandle {
  /** 'sse' while the server streams /watch/events, 'long-poll' on /watch, 'poll' after falling back. */
  readonly mode: WatchMode;
  close(): void;
  /** Settles after close(). */
  readonly closed: Promise<void>;
}

export type ChangeListener = (envelope: Envelope | null) => void;

export interface RegistryReader {
  /** URL or folder it reads. */
  readonly location: string;
  query(q: TagQuery | string, opts?: QueryOptions): Promise<EnvelopeSummary[]>;
  resolve(spec: ResolveSpec): Promise<Envelope>;
  /** A local path holding the artifact's bytes, checked against its sha256. */
  download(ref: Pick<Envelope, 'function'> | ArtifactRef): Promise<string>;
  /** The artifact's bytes, checked against its sha256. */
  readArtifact(ref: Pick<Envelope, 'function'> | ArtifactRef): Promise<Uint8Array>;
  watch(spec: ResolveSpec, onChange: ChangeListener, opts?: WatchOptions): WatchHandle;
  close(): Promise<void>;
}

/** Readers that can also publish, add metrics and move aliases. */
export interface RegistryWriter extends RegistryReader, PublishTarget {
  addMetrics(name: string, version: number, metrics: unknown): Promise<Envelope>;
  setAlias(name: string, alias: string, version: number): Promise<void>;
}

export function artifactOf(ref: Pick<Envelope, 'function'> | ArtifactRef): ArtifactRef {
  return 'function' in ref ? ref.function.artifact : ref;
}

export function tokenOf(e: Pick<Envelope, 'name' | 'version'> | null | undefined): string {
  return e ? `${e.name}@${e.version}` : '-';
}
