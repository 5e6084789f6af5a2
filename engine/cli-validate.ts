/**
 * `airmail validate FILE|DIR...`: a file is checked the way the server would
 * load it, together with the other configs of its directory (names are shared
 * across a configs directory, so a pipeline file may use presets and datasets
 * defined beside it). Problems are reported for the files named, and for any
 * other file they affect; another file whose problems are the same with and
 * without the named files is broken on its own: it is counted, not failed.
 * With `alone`, the named files are checked as a set of their own; with
 * `configs`, together with that directory's configs (as if dropped there).
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { ModelResolver, OperatorDefinition } from './api.js';
import { readConfigDir, readConfigFile } from './config/dir.js';
import { DatasetCache, loadConfigSet, type ConfigSource } from './config/load.js';
import type { CompiledExperiment } from './config/compile-experiment.js';
import { logDiagnostics } from './server.js';
import { formatDiagnostic, type Diagnostic } from './errors.js';
import type { RemoteDatasetLoader } from './remote/datasets.js';

export interface ValidateOptions {
  readonly operators: ReadonlyMap<string, OperatorDefinition>;
  /** Check the named files only, as one set, without the other files of their directories. */
  readonly alone?: boolean;
  /** Check the named files with this directory's configs instead of their own directory's. */
  readonly configs?: string;
  readonly models?: ModelResolver;
  /** Loads `http:` datasets (without it they are reported as unreadable). */
  readonly remoteDatasets?: RemoteDatasetLoader;
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

/** A path the command cannot use, said in one line. */
export class PathError extends Error {}

/** Named files grouped by directory; a named directory stands for all of its configs. */
async function groups(paths: readonly string[], alone: boolean, configs: string | undefined): Promise<Map<string, Set<string> | 'all'>> {
  const out = new Map<string, Set<string> | 'all'>();
  for (const p of paths) {
    const abs = resolve(p);
    const st = await stat(abs).catch((e: NodeJS.ErrnoException) => {
      throw new PathError(`cannot read ${p}: ${e.code === 'ENOENT' ? 'no such file or directory' : (e.code ?? e.message)}`);
    });
    if (st.isDirectory()) {
      out.set(abs, 'all');
      continue;
    }
    const dir = alone ? '' : configs ?? dirname(abs);
    const g = out.get(dir);
    if (g === 'all') continue;
    out.set(dir, (g ?? new Set()).add(abs));
  }
  return out;
}

export async function validateFiles(paths: readonly string[], opts: ValidateOptions): Promise<number> {
  const cache = new DatasetCache();
  const load = (sources: Map<string, string>): ReturnType<typeof loadConfigSet> =>
    loadConfigSet([...sources].sort(([a], [b]) => a.localeCompare(b)).map(([path, text]): ConfigSource => ({ path, text })), { operators: opts.operators, datasetCache: cache, ...(opts.models ? { models: opts.models } : {}), ...(opts.remoteDatasets ? { remoteDatasets: opts.remoteDatasets } : {}) });
  let failed = false;
  const ok: string[] = [];
  for (const [dir, group] of await groups(paths, opts.alone === true, opts.configs === undefined ? undefined : resolve(opts.configs))) {
    const context = dir === '' ? new Map<string, string>() : await readConfigDir(dir);
    const named = group === 'all' ? new Set(context.keys()) : group;
    const all = new Map(context);
    // Dropped into the directory, a file replaces the one of the same name there.
    if (opts.configs !== undefined && group !== 'all') for (const f of named) if (join(dir, basename(f)) !== f) all.delete(join(dir, basename(f)));
    for (const f of named) {
      const r = await readConfigFile(f);
      if (r === undefined) throw new PathError(`${relative(process.cwd(), f)} is JSON data (a top-level array, or {"rows": [...]}), not a config`);
      if ('skip' in r) throw new PathError(`cannot read ${relative(process.cwd(), f)}: it ${r.skip}`);
      all.set(f, r.text);
      // Loading it is no problem (it defines nothing), but a served file emptied is refused on reload.
      if (r.text.trim() === '') opts.err(`note: ${relative(process.cwd(), f)} is empty: it defines nothing (a server that loaded it with text keeps serving that text until the file is deleted)\n`);
    }
    const r = await load(all);
    if (r.ok) {
      const pipelines = [...r.snapshot.pipelines.values()].filter((p) => named.has(p.file));
      const experiments = [...(r.snapshot.experiments?.values() ?? [])].filter((x) => named.has(x.file));
      ok.push(...pipelines.map((p) => `${p.name}@${p.version}`), ...experiments.map(experimentLine));
      if (named.size > 0 && pipelines.length + experiments.length === 0) ok.push(...[...named].map((f) => relative(process.cwd(), f)));
      continue;
    }
    // Another file whose problems do not change when the named files are left out is broken on its own.
    const others = new Map([...context].filter(([f]) => !named.has(f)));
    const before = others.size > 0 && named.size > 0 ? await load(others) : undefined;
    const after = byFile(r.diagnostics);
    const without = byFile(before && !before.ok ? before.diagnostics : []);
    const own = (f: string | undefined): boolean => f !== undefined && !named.has(f) && after.get(f) === without.get(f);
    const mine = r.diagnostics.filter((d: Diagnostic) => !own(d.file));
    const theirs = r.diagnostics.length - mine.length;
    logDiagnostics(mine, opts.err);
    if (theirs > 0) opts.err(`note: ${theirs} problem(s) in other files of ${relative(process.cwd(), dir) || '.'} that the named files do not cause (airmail validate ${relative(process.cwd(), dir) || '.'} lists them)\n`);
    if (mine.length > 0) {
      opts.err(`${mine.length} problem(s)\n`);
      failed = true;
    } else ok.push(...[...named].map((f) => relative(process.cwd(), f)));
  }
  if (failed) return 1;
  opts.out(`ok: ${ok.join(', ') || 'no pipelines or experiments'}\n`);
  return 0;
}

/** An experiment checked, named with its arms and their shares (checked silently, it could not be told from one never seen). */
export function experimentLine(x: CompiledExperiment): string {
  const pct = (share: number): string => `${Math.round(share * 1000) / 10}%`;
  const arms = x.arms.map((a) => `${a.pipeline} ${pct(a.share)}`).join(', ');
  return `${x.name}@${x.version} (experiment: ${arms}${x.default !== undefined ? `; default ${x.default}` : ''})`;
}

/** Each file's problems as one comparable string. */
function byFile(diags: readonly Diagnostic[]): Map<string | undefined, string> {
  const lists = new Map<string | undefined, string[]>();
  for (const d of diags) lists.set(d.file, [...(lists.get(d.file) ?? []), formatDiagnostic(d)]);
  return new Map([...lists].map(([f, l]) => [f, l.sort().join('\n')]));
}
