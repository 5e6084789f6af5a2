/**
 * A local content-addressed artifact cache: <dir>/<sha256>. Files are written to a temp name while
 * hashed and renamed into place only when the hash matches, so a cache entry is always whole and
 * right; entries are re-hashed once per process before first use.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isSha256 } from '../engine/registry/envelope.js';
import { RegistryError } from '../engine/registry/errors.js';
import { sha256Hex } from '../engine/registry/function.js';

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.AIRMAIL_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'airmail', 'artifacts');
}

export class ArtifactCache {
  readonly dir: string;
  private readonly verified = new Set<string>();

  constructor(dir: string = defaultCacheDir()) {
    this.dir = dir;
  }

  path(sha256: string): string {
    if (!isSha256(sha256)) throw new RegistryError('NAME_INVALID', `${JSON.stringify(sha256)} is not a sha256`);
    return join(this.dir, sha256);
  }

  /** The cached path when present and intact; a corrupt entry is deleted. */
  async lookup(sha256: string): Promise<string | undefined> {
    const p = this.path(sha256);
    if (this.verified.has(sha256)) return p;
    const bytes = await readFile(p).catch(() => undefined);
    if (!bytes) return undefined;
    if (sha256Hex(bytes) !== sha256) { await unlink(p).catch(() => undefined); return undefined; }
    this.verified.add(sha256);
    return p;
  }

  /** Streams `body` into the cache, failing with ARTIFACT_CORRUPT (and keeping nothing) on a hash mismatch. */
  async put(sha256: string, body: Readable): Promise<string> {
    const p = this.path(sha256);
    await mkdir(this.dir, { recursive: true });
    const tmp = `${p}.${process.pid}.${randomBytes(4).toString('hex')}.part`;
    const hash = createHash('sha256');
    body.on('data', (chunk: Buffer) => hash.update(chunk));
    try {
      await pipeline(body, createWriteStream(tmp, { flags: 'wx' }));
      const actual = hash.digest('hex');
      if (actual !== sha256) throw new RegistryError('ARTIFACT_CORRUPT', `downloaded artifact hashes to ${actual}, expected ${sha256}`, { details: { expected: sha256, actual } });
      await rename(tmp, p);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    this.verified.add(sha256);
    return p;
  }
}
