/**
 * File access that stays inside the registry root: every path is built from checked names, must
 * resolve under the root, and is opened with O_NOFOLLOW (a symlink planted in the store is an error,
 * not a way out). Writes go to a temp file in root/tmp and are renamed (replace) or linked (create-only)
 * into place, so readers never see half a file.
 */
import { constants } from 'node:fs';
import { link, mkdir, open, rename, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { RegistryError } from './errors.js';

export function inside(root: string, ...parts: string[]): string {
  for (const p of parts) {
    if (isAbsolute(p) || p.split(/[\\/]/).some((s) => s === '..' || s === '')) {
      throw new RegistryError('NAME_INVALID', `path segment ${JSON.stringify(p)} would leave the registry root`);
    }
  }
  const full = resolve(root, ...parts);
  const rel = relative(root, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) {
    throw new RegistryError('NAME_INVALID', `path ${JSON.stringify(parts.join('/'))} would leave the registry root`);
  }
  return full;
}

/** Reads a regular file without following a symlink at its last component; undefined if absent. */
export async function readNoFollow(path: string): Promise<Buffer | undefined> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new RegistryError('ARTIFACT_UNSAFE', `refusing to follow a symlink in the registry: ${path}`);
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new RegistryError('ARTIFACT_UNSAFE', `not a regular file in the registry: ${path}`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

async function tempFile(root: string, data: Uint8Array | string): Promise<string> {
  const dir = join(root, 'tmp');
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${process.pid}-${randomBytes(6).toString('hex')}`);
  await writeFile(tmp, data, { flag: 'wx' });
  return tmp;
}

/** Atomic replace. */
export async function writeAtomic(root: string, path: string, data: Uint8Array | string): Promise<void> {
  const tmp = await tempFile(root, data);
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Atomic create; false (and nothing written) when `path` already exists. */
export async function createAtomic(root: string, path: string, data: Uint8Array | string): Promise<boolean> {
  const tmp = await tempFile(root, data);
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
