/**
 * `openRegistry(location)`: http(s):// → RegistryClient; file:// or a path → FileRegistry.
 * The engine takes the location from --registry or AIRMAIL_REGISTRY.
 */
import type { Envelope } from '../engine/registry/envelope.js';
import { loadFunction, type LoadedFunction } from '../engine/registry/function.js';
import type { ResolveSpec } from '../engine/registry/store.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { assertFolderLocation, FileRegistry } from './file-registry.js';
import type { RegistryWriter } from './reader.js';

export interface OpenRegistryOptions extends Omit<RegistryClientOptions, 'url'> {
  /** For folders: create an empty registry when missing. */
  readonly create?: boolean;
}

export async function openRegistry(location: string | undefined = process.env.AIRMAIL_REGISTRY, opts: OpenRegistryOptions = {}): Promise<RegistryWriter> {
  if (!location) throw new Error('no registry given: pass --registry URL|DIR or set AIRMAIL_REGISTRY');
  if (/^https?:\/\//i.test(location)) return new RegistryClient({ ...opts, url: location });
  assertFolderLocation(location);
  return FileRegistry.open(location, opts.create ? { create: true } : {});
}

/** Resolve, fetch (verified) and load in one step: what a model-serving operator needs. */
export async function loadResolved(reg: RegistryWriter, spec: ResolveSpec): Promise<{ envelope: Envelope; fn: LoadedFunction }> {
  const envelope = await reg.resolve(spec);
  const fn = await loadFunction(envelope, await reg.readArtifact(envelope));
  return { envelope, fn };
}
