/**
 * Which files of a configs directory are configs, and reading them safely.
 * YAML files always are configs; a JSON file is one unless it holds a JSON
 * dataset in either of its shapes (a top-level array, `[{...}, ...]`, or an
 * object with its rows under `rows`, `{"rows": [...]}`) kept beside the
 * configs, so data can sit at the top of the directory without being read
 * as a broken config (no config has a `rows` key). Only regular files inside the directory are read, and
 * never more than MAX_CONFIG_BYTES of one: a named pipe, a device, a folder
 * named like a config or a link out of the directory is skipped with a
 * reason, so nothing in the directory can block or flood the reader.
 */
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { AirmailError } from '../errors.js';
import { parseConfigText } from './parse.js';

const CONFIG_EXT = new Set(['.yaml', '.yml', '.json']);

/** The largest config file read (a bigger one is skipped and reported). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/**
 * Whether a directory entry's name could be a config: the right extension, and not an editor's or
 * writer's temporary file (`.foo.yaml.swp`, `.#foo.yaml`, `#foo.yaml#`, `foo.yaml~`, `foo.yaml.tmp`).
 */
export function hasConfigName(name: string): boolean {
  return CONFIG_EXT.has(extname(name).toLowerCase()) && !/^[.#~]/.test(name);
}

/** Whether a file (by name and text) is a config rather than data. */
export function isConfigText(name: string, text: string): boolean {
  if (!hasConfigName(name)) return false;
  if (extname(name).toLowerCase() !== '.json') return true;
  return !isJsonData(text) && !isJsonRowsObject(text);
}

/** Whether a JSON file's first bytes show it is data: an array, or an object whose first key is `rows` holding one. */
function isJsonData(head: string): boolean {
  return /^\uFEFF?\s*(?:\[|\{\s*"rows"\s*:\s*\[)/.test(head);
}

/** Whether a JSON file's whole text is an object holding an array under `rows` (a dataset whose `rows` is not the first key). */
function isJsonRowsObject(text: string): boolean {
  if (!text.includes('"rows"')) return false;
  try {
    const v = JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) && Array.isArray((v as { rows?: unknown }).rows);
  } catch {
    return false;
  }
}

/** A config file's text, and its stamp (`size:mtime:sha256`): equal stamps mean the file did not move. */
export interface ConfigText {
  readonly text: string;
  readonly stamp: string;
}

/** What reading one entry gave: its text, a reason it is not read, or nothing (gone, or data). */
export type ReadOutcome = ConfigText | { readonly skip: string } | undefined;

/** The configs of a directory as read once. */
export interface ConfigDirScan {
  /** path → text, sorted by path. */
  readonly files: Map<string, string>;
  /** path → stamp of each file in `files`. */
  readonly stamps: Map<string, string>;
  /** Entries named like configs that were not read: path → why. */
  readonly skipped: Map<string, string>;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

const ONLY_FILES = 'only regular files are read as configs';

/**
 * Read one file as a config, without ever waiting on it: it is opened non-blocking (a named pipe
 * swapped in after a check does not wait for a writer), must be a regular file, and is read up to
 * MAX_CONFIG_BYTES. A `.json` file that starts with `[` or `{"rows": [` is data: undefined, whatever its
 * size; one holding `rows` further on is data too when it is no larger than a config may be.
 */
export async function readConfigFile(path: string): Promise<ReadOutcome> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined; // removed between listing and reading
    return { skip: code === 'ENXIO' ? `is a socket; ${ONLY_FILES}` : `cannot be read (${code ?? (err as Error).message})` };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { skip: `is ${kindOf(st)}; ${ONLY_FILES}` };
    const json = extname(path).toLowerCase() === '.json';
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(64 * 1024);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total === bytesRead && json && isJsonData(buf.toString('utf8', 0, Math.min(bytesRead, 256)))) return undefined;
      if (total > MAX_CONFIG_BYTES) return { skip: `is larger than ${MAX_CONFIG_BYTES} bytes, the most a config file may hold` };
    }
    const bytes = Buffer.concat(chunks, total);
    const text = bytes.toString('utf8');
    if (json && isJsonRowsObject(text)) return undefined;
    return { text, stamp: `${st.size}:${st.mtimeMs}:${createHash('sha256').update(bytes).digest('hex')}` };
  } finally {
    await fh.close();
  }
}

/**
 * The configs of a directory. A missing directory, or a path that is not one, is a CONFIG_INVALID
 * error that says so (a server must not start on a mistyped path). An entry named like a config
 * that is not a regular file, or a link to something outside the directory, is skipped with why.
 */
/** The longest one read of the directory may take; past it the scan is abandoned and retried later. */
const SCAN_TIMEOUT_MS = 10_000;

/** One read of the directory (scanConfigDir); one that hangs (a stuck network mount) fails after SCAN_TIMEOUT_MS. */
export function scanConfigDirWithin(dir: string): Promise<ConfigDirScan> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AirmailError('CONFIG_INVALID', `reading ${dir} took over ${SCAN_TIMEOUT_MS} ms`)), SCAN_TIMEOUT_MS);
    timer.unref();
  });
  return Promise.race([scanConfigDir(dir), late]).finally(() => clearTimeout(timer));
}

export async function scanConfigDir(dir: string): Promise<ConfigDirScan> {
  const st = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    throw new AirmailError('CONFIG_INVALID', `the configs directory ${dir} ${err.code === 'ENOENT' ? 'does not exist' : `cannot be read (${err.code ?? err.message})`}`, { cause: err });
  });
  if (!st.isDirectory()) throw new AirmailError('CONFIG_INVALID', `${dir} is not a directory; give the configs directory`);
  const realDir = await realpath(dir);
  const out: ConfigDirScan = { files: new Map(), stamps: new Map(), skipped: new Map() };
  for (const n of (await readdir(dir)).sort()) {
    if (!hasConfigName(n)) continue;
    const p = join(dir, n);
    const r = await readEntry(p, realDir);
    if (r === undefined) continue;
    if ('skip' in r) out.skipped.set(p, r.skip);
    else if (isConfigText(n, r.text)) {
      out.files.set(p, r.text);
      out.stamps.set(p, r.stamp);
    }
  }
  return out;
}

async function readEntry(p: string, realDir: string): Promise<ReadOutcome> {
  const l = await lstat(p).catch(() => undefined);
  if (!l) return undefined; // removed between listing and reading
  if (l.isSymbolicLink()) {
    // Links inside the directory are followed (a Kubernetes ConfigMap is links into ..data/); others are not.
    const target = await realpath(p).catch(() => undefined);
    if (target === undefined) return { skip: 'is a symbolic link to nothing (a dangling link)' };
    if (!target.startsWith(realDir + sep)) return { skip: `is a symbolic link to ${target}, outside the configs directory; only files inside it are read` };
  } else if (!l.isFile()) return { skip: `is ${kindOf(l)}; ${ONLY_FILES}` };
  return readConfigFile(p);
}

/** The configs of a directory, path → text, sorted by path (entries that cannot be read are left out). */
export async function readConfigDir(dir: string): Promise<Map<string, string>> {
  return (await scanConfigDir(dir)).files;
}

/** One thing a config file defines, e.g. `{kind: 'dataset', name: 'catalog'}`. */
export interface FileEntry {
  readonly kind: 'pipeline' | 'dataset' | 'preset' | 'context' | 'operator folder' | 'deployment';
  readonly name: string;
}

/** What a config text defines (nothing when it does not parse: a broken file holds nothing yet). */
export function entriesOf(text: string): FileEntry[] {
  const r = parseConfigText(text);
  if (!r.ok || !isRecord(r.parsed.value)) return [];
  const v = r.parsed.value;
  const out: FileEntry[] = [];
  const names = (x: unknown): string[] => (isRecord(x) ? Object.keys(x) : []);
  const pipelineName = (p: unknown): string => (isRecord(p) && typeof p['name'] === 'string' ? p['name'] : '?');
  if (v['pipeline'] !== undefined) out.push({ kind: 'pipeline', name: pipelineName(v['pipeline']) });
  if (Array.isArray(v['pipelines'])) for (const p of v['pipelines']) out.push({ kind: 'pipeline', name: pipelineName(p) });
  for (const n of names(v['datasets'])) out.push({ kind: 'dataset', name: n });
  for (const n of names(v['operators'])) out.push({ kind: 'preset', name: n });
  for (const n of names(v['contexts'])) out.push({ kind: 'context', name: n });
  if (Array.isArray(v['operator_paths'])) for (const p of v['operator_paths']) out.push({ kind: 'operator folder', name: String(p) });
  if (Array.isArray(v['deployments'])) for (const d of v['deployments']) out.push({ kind: 'deployment', name: isRecord(d) && typeof d['name'] === 'string' ? d['name'] : '?' });
  return out;
}

export function describeEntries(entries: readonly FileEntry[]): string {
  return entries.map((e) => `${e.kind} '${e.name}'`).join(', ');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
