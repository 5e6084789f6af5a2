/**
 * Which files of a configs directory are configs. YAML files always are; a
 * JSON file is a config unless its top-level value is an array (a JSON
 * dataset, `[{...}, ...]`, kept beside the configs), so data can sit at the
 * top of the directory without being read as a broken config.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { AirmailError } from '../errors.js';
import { parseConfigText } from './parse.js';

const CONFIG_EXT = new Set(['.yaml', '.yml', '.json']);

/** Whether a directory entry's name could be a config (right extension, not hidden). */
export function hasConfigName(name: string): boolean {
  return CONFIG_EXT.has(extname(name).toLowerCase()) && !name.startsWith('.');
}

/** Whether a file (by name and text) is a config rather than data. */
export function isConfigText(name: string, text: string): boolean {
  if (!hasConfigName(name)) return false;
  if (extname(name).toLowerCase() !== '.json') return true;
  return !/^\uFEFF?\s*\[/.test(text);
}

/**
 * The configs of a directory, path → text, sorted by path. A missing directory, or a path that is
 * not one, is a CONFIG_INVALID error that says so (a server must not start on a mistyped path).
 */
export async function readConfigDir(dir: string): Promise<Map<string, string>> {
  const st = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    throw new AirmailError('CONFIG_INVALID', `the configs directory ${dir} ${err.code === 'ENOENT' ? 'does not exist' : `cannot be read (${err.code ?? err.message})`}`, { cause: err });
  });
  if (!st.isDirectory()) throw new AirmailError('CONFIG_INVALID', `${dir} is not a directory; give the configs directory`);
  const out = new Map<string, string>();
  for (const n of (await readdir(dir)).sort()) {
    if (!hasConfigName(n)) continue;
    const p = join(dir, n);
    try {
      const text = await readFile(p, 'utf8');
      if (isConfigText(n, text)) out.set(p, text);
    } catch {
      // removed between readdir and read (or a folder named like a file): treated as absent
    }
  }
  return out;
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
