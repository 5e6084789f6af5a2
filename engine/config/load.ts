/**
 * A set of config files → one snapshot (datasets, presets, compiled
 * pipelines), or every problem of every file. Names are global across the
 * files of a configs directory, so a business user's pipeline file can use
 * presets and datasets that an operator author defines in another file.
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import type { ModelResolver, OperatorDefinition } from '../api.js';
import { unsafeIdProblem, withColumns, type Table } from '../dataset.js';
import { AirmailError, type Diagnostic, type ErrorCode } from '../errors.js';
import { parseConfigText, type ParsedText } from './parse.js';
import type { ParseCache } from './parse-cache.js';
import { loadDeployments, type LoadedDeployment } from '../registry/deployments.js';
import { CONFIG_FILE_SCHEMA, type ConfigFile, type ContextConfig, type DatasetConfig, type PipelineConfig, type PresetConfig } from './schema.js';
import { withEnv, type RemoteDatasetLoader } from '../remote/datasets.js';
import { REDIS_DATASET_READ_DEFAULTS, redisReadProblems } from '../remote/redis-read.js';
import { compilePipeline, type CompiledPipeline } from './compile-pipeline.js';
import { compileExperiments, type CompiledExperiment } from './compile-experiment.js';
import { reservedNameProblems, sealedProblems } from './sealed.js';
import { unusedPresetProblems } from './preset-check.js';
import { checkContext } from './context-check.js';
import { fallbackProblems } from './fallback-check.js';
import { describeErrors, didYouMean, newAjv, ParamValidator } from './validators.js';
import { importOperatorFolder, thrownText } from './operator-files.js';
import { DatasetCache, declaredColumns, formatOf } from './dataset-cache.js';

export { DatasetCache };

export { importOperatorModule, isOperatorDefinition, operatorFileUrl, operatorFileVersion } from './operator-files.js';

export interface ConfigSource {
  /** Path used in messages and for resolving relative paths. */
  readonly path: string;
  readonly text: string;
}

export type LoadedPipeline = CompiledPipeline & { readonly file: string };

export interface Snapshot {
  readonly pipelines: ReadonlyMap<string, LoadedPipeline>;
  readonly datasets: ReadonlyMap<string, Table>;
  readonly operators: ReadonlyMap<string, OperatorDefinition>;
  /** Module URLs that define the custom operators (workers import them). */
  readonly operatorModules: readonly string[];
  /** The `operator_paths` folders, resolved: a file added to one (or a broken one fixed) is a change. */
  readonly operatorFolders?: readonly string[];
  /** The file each custom operator came from (absent: built-in), for the operator catalogue. */
  readonly operatorFiles?: ReadonlyMap<string, string>;
  readonly presets: ReadonlyMap<string, PresetConfig & { readonly file?: string }>;
  readonly contexts: ReadonlyMap<string, { readonly config: ContextConfig; readonly pointer: string }>;
  readonly datasetIds: ReadonlyMap<string, string>;
  /** Registry models served as /models/{name} (`deployments:`); absent without any. */
  readonly deployments?: ReadonlyMap<string, LoadedDeployment>;
  /** A/B experiments served at /pipelines/{name} (`experiments:`; engine/experiments.ts); absent without any. */
  readonly experiments?: ReadonlyMap<string, CompiledExperiment>;
}

export interface LoadOptions {
  readonly operators: ReadonlyMap<string, OperatorDefinition>;
  /** Reused between loads so unchanged datasets are not read again. */
  readonly datasetCache?: DatasetCache;
  /** The model registry, for registry models and deployments. */
  readonly models?: ModelResolver;
  /**
   * Files that came over HTTP (admin POST, dry runs): they may use installed operators, loaded
   * datasets and registry models only; naming a file, folder, URL or data: specifier is refused.
   */
  readonly sealed?: ReadonlySet<string>;
  /** Reads `redis:` / `http:` datasets (engine/remote/datasets.ts); without it they are refused. */
  readonly remoteDatasets?: RemoteDatasetLoader;
  /** Reused between loads so unchanged files are not parsed again. */
  readonly parseCache?: ParseCache;
  /**
   * A local dataset file whose contents now fail to load: the table it is served as, when it is
   * to stay so (a file already rejected, that this load does not propose), else undefined and the
   * failure is a problem of the load. Without it one broken data file refused every other edit.
   */
  readonly heldDataset?: (name: string, path: string, id: string | undefined) => { readonly table: Table; readonly id: string } | undefined;
}

/** A dataset file that is not there: where it was looked for, and the nearest file of that folder. */
async function missingFile(name: string, given: string, path: string): Promise<string> {
  const entries = await readdir(dirname(path)).catch(() => undefined);
  const folder = entries ? '' : `; the folder ${dirname(path)} does not exist either`;
  const near = entries ? didYouMean(basename(path), entries) : '';
  const shown = near ? near.replace(/'([^']*)'/, (_m, f: string) => `'${given.slice(0, given.length - basename(given).length)}${f}'`) : '';
  return `dataset '${name}': there is no file ${given} (looked for ${path}, relative to the config file's folder${folder})${shown}`;
}

function sealedPath(x: string): never {
  throw new AirmailError('CONFIG_INVALID', `'${x.length > 60 ? `${x.slice(0, 57)}...` : x}' names a file; a config sent over HTTP may use installed operators, loaded datasets and published (registry) models only`);
}

/** `operatorFolders`: the `operator_paths` folders this load imported from (watched for new and fixed files). */
/**
 * `operatorVersions`: the operator file versions (content-hash URLs) it imported; `causedBy`: for a
 * problem file that is no config (an operator file), the configs whose `operator_paths` named its folder.
 */
export type LoadResult = { ok: true; snapshot: Snapshot; diagnostics: [] } | { ok: false; diagnostics: Diagnostic[]; operatorFolders?: readonly string[]; operatorVersions?: readonly string[]; causedBy?: ReadonlyMap<string, readonly string[]> };

const fileAjv = newAjv({ useDefaults: false });
const validateFile = fileAjv.compile(CONFIG_FILE_SCHEMA as object);
export const validators = new ParamValidator();

/** How a file dataset read from no rows gets its columns. */
const DECLARE_COLUMNS = 'declare them with columns: {name: integer|number|string} in its datasets: entry';

interface Located {
  readonly file: string;
  readonly parsed: ParsedText;
  readonly config: ConfigFile;
}

export async function loadConfigSet(sources: readonly ConfigSource[], opts: LoadOptions): Promise<LoadResult> {
  const diagnostics: Diagnostic[] = [];
  const located: Located[] = [];
  opts.parseCache?.begin();
  for (const src of sources) {
    const r = opts.parseCache ? opts.parseCache.parse(src.text, src.path) : parseConfigText(src.text, src.path);
    if (!r.ok) {
      diagnostics.push(...r.diagnostics);
      continue;
    }
    const value = r.parsed.value ?? {};
    if (!validateFile(value)) {
      for (const p of describeErrors(validateFile.errors)) diagnostics.push(at(r.parsed, src.path, 'CONFIG_INVALID', p.path, p.message));
      continue;
    }
    located.push({ file: src.path, parsed: r.parsed, config: value as ConfigFile });
  }

  // ---- global names
  const datasetDefs = new Map<string, { cfg: DatasetConfig; loc: Located }>();
  const presets = new Map<string, PresetConfig & { file?: string }>();
  const presetLoc = new Map<string, Located>();
  const contexts = new Map<string, { config: ContextConfig; pointer: string; file: string }>();
  const pipelines: { cfg: PipelineConfig; ptr: string; loc: Located }[] = [];
  const pipelineNames = new Map<string, Located>();
  const operatorPaths: { path: string; loc: Located; ptr: string }[] = [];
  for (const loc of located) {
    const c = loc.config;
    for (const p of reservedNameProblems(c)) diagnostics.push(at(loc.parsed, loc.file, p.code, p.pointer, p.message));
    if (opts.sealed?.has(loc.file)) {
      for (const key of ['datasets', 'operator_paths'] as const) {
        if (c[key] !== undefined) diagnostics.push(at(loc.parsed, loc.file, 'CONFIG_INVALID', `/${key}`, `a config sent over HTTP may not define ${key}; put those in the configs directory`));
      }
      if (c.datasets !== undefined || c.operator_paths !== undefined) continue;
    }
    for (const [name, d] of Object.entries(c.datasets ?? {})) {
      const prev = datasetDefs.get(name);
      if (prev) diagnostics.push(at(loc.parsed, loc.file, 'DUPLICATE_NAME', `/datasets/${name}`, `dataset '${name}' is also defined in ${prev.loc.file}`));
      else datasetDefs.set(name, { cfg: d, loc });
    }
    for (const [name, p] of Object.entries(c.operators ?? {})) {
      const prev = presetLoc.get(name);
      if (prev) diagnostics.push(at(loc.parsed, loc.file, 'DUPLICATE_NAME', `/operators/${name}`, `operator preset '${name}' is also defined in ${prev.file}`));
      else if (opts.operators.has(name) && p.use !== name) {
        diagnostics.push(at(loc.parsed, loc.file, 'DUPLICATE_NAME', `/operators/${name}`, `'${name}' is the name of an installed operator; give the preset another name`));
      } else {
        presets.set(name, opts.sealed?.has(loc.file) ? { ...p } : { ...p, file: loc.file });
        presetLoc.set(name, loc);
      }
    }
    for (const [name, cx] of Object.entries(c.contexts ?? {})) {
      const prev = contexts.get(name);
      if (prev) diagnostics.push(at(loc.parsed, loc.file, 'DUPLICATE_NAME', `/contexts/${name}`, `context '${name}' is also defined in ${prev.file}`));
      else contexts.set(name, { config: cx, pointer: `/contexts/${name}`, file: loc.file });
    }
    (c.operator_paths ?? []).forEach((p, i) => operatorPaths.push({ path: p, loc, ptr: `/operator_paths/${i}` }));
    const list = c.pipeline ? [{ cfg: c.pipeline, ptr: '/pipeline' }] : [];
    (c.pipelines ?? []).forEach((p, i) => list.push({ cfg: p, ptr: `/pipelines/${i}` }));
    for (const item of list) {
      const prev = pipelineNames.get(item.cfg.name);
      if (prev) {
        diagnostics.push(at(loc.parsed, loc.file, 'DUPLICATE_NAME', `${item.ptr}/name`, `pipeline '${item.cfg.name}' is also defined in ${prev.file}`));
        continue;
      }
      pipelineNames.set(item.cfg.name, loc);
      pipelines.push({ ...item, loc });
    }
  }

  // ---- custom operators
  const operators = new Map(opts.operators);
  const operatorModules: string[] = [];
  const operatorFiles = new Map<string, string>();
  const brokenOperatorFiles: string[] = [];
  const operatorFolders: string[] = [];
  const operatorVersions: string[] = [];
  const causedBy = new Map<string, string[]>();
  for (const op of operatorPaths) {
    const dir = resolveFrom(op.loc.file, op.path);
    operatorFolders.push(dir);
    try {
      const { modules, problems, tried } = await importOperatorFolder(dir);
      operatorVersions.push(...tried);
      for (const p of problems) {
        brokenOperatorFiles.push(p.file);
        causedBy.set(p.file, [...(causedBy.get(p.file) ?? []), op.loc.file]);
        diagnostics.push({ code: 'CONFIG_INVALID', file: p.file, ...(p.line !== undefined ? { line: p.line, col: p.col } : {}), message: `${p.message} (a file of operator_paths '${op.path}' in ${op.loc.file})` });
      }
      for (const { url, file, defs } of modules) {
        operatorModules.push(url);
        for (const def of defs) {
          if (operators.has(def.name) && operators.get(def.name) !== def) {
            const other = operatorFiles.get(def.name);
            diagnostics.push(at(op.loc.parsed, op.loc.file, 'DUPLICATE_NAME', op.ptr, `operator '${def.name}' from ${file} clashes with ${other ? `the operator of that name in ${other}` : `the built-in operator '${def.name}'`}; give it another name`));
          } else {
            operators.set(def.name, def);
            operatorFiles.set(def.name, file);
          }
        }
      }
    } catch (err) {
      diagnostics.push(at(op.loc.parsed, op.loc.file, 'CONFIG_INVALID', op.ptr, `cannot load operators from ${dir}: ${err instanceof Error ? err.message : thrownText(err)}`));
    }
  }

  // Sent over HTTP: no {env:}, no remote source but through a preset from the configs directory.
  const refused = new Set<string>();
  for (const l of located.filter((x) => opts.sealed?.has(x.file))) {
    const problems = sealedProblems(l.config, operators, presets);
    for (const p of problems) diagnostics.push(at(l.parsed, l.file, p.code, p.pointer, p.message));
    if (problems.length > 0) refused.add(l.file);
  }

  // ---- datasets
  const cache = opts.datasetCache ?? new DatasetCache();
  const datasets = new Map<string, Table>();
  const datasetIds = new Map<string, string>();
  await Promise.all(
    [...datasetDefs].map(async ([name, { cfg, loc }]) => {
      if (cfg.redis || cfg.http) {
        const where = `/datasets/${name}/${cfg.redis ? 'redis' : 'http'}`;
        if (!opts.remoteDatasets) {
          diagnostics.push(at(loc.parsed, loc.file, 'DATASET_LOAD_FAILED', where, `dataset '${name}' is remote, and nothing here can read remote datasets`));
          return;
        }
        const unbounded = cfg.redis ? redisReadProblems(cfg.redis, REDIS_DATASET_READ_DEFAULTS) : [];
        if (unbounded.length > 0) {
          for (const p of unbounded) diagnostics.push(at(loc.parsed, loc.file, 'CONFIG_INVALID', `${where}${p.path}`, `dataset '${name}': ${p.message}`));
          return;
        }
        const expanded = withEnv(cfg);
        if (expanded.problems.length > 0) {
          for (const p of expanded.problems) diagnostics.push(at(loc.parsed, loc.file, 'DATASET_LOAD_FAILED', `/datasets/${name}${p.pointer}`, `dataset '${name}': ${p.message}`));
          return;
        }
        try {
          const { table, id } = await opts.remoteDatasets(name, expanded.cfg);
          if (cfg.key !== undefined && !table.has(cfg.key)) {
            // An absent Redis key reads as no rows (as Redis reads it): say so, it is usually a misspelt key.
            const why = table.columnNames.length === 0 && cfg.redis ? `${table.columnsNote()}; does Redis key '${cfg.redis.key}' exist?` : table.columnsNote();
            diagnostics.push(at(loc.parsed, loc.file, 'UNKNOWN_COLUMN', `/datasets/${name}/key`, `dataset '${name}' has no column '${cfg.key}' to use as its key (${why})`));
            return;
          }
          const unsafe = cfg.key !== undefined ? unsafeIdProblem(table, cfg.key, 'its key') : undefined;
          if (unsafe) {
            diagnostics.push(at(loc.parsed, loc.file, 'DATASET_LOAD_FAILED', `/datasets/${name}/key`, unsafe));
            return;
          }
          datasets.set(name, table);
          datasetIds.set(name, id);
        } catch (err) {
          diagnostics.push(at(loc.parsed, loc.file, 'DATASET_LOAD_FAILED', where, `dataset '${name}': ${(err as Error).message}`));
        }
        return;
      }
      const path = resolveFrom(loc.file, cfg.path ?? '');
      let id: string | undefined;
      try {
        id = await cache.identity(path, cfg);
        const table = withColumns(await cache.load(name, path, cfg, id), declaredColumns(cfg.columns));
        if (cfg.key !== undefined && !table.has(cfg.key)) {
          diagnostics.push(at(loc.parsed, loc.file, 'UNKNOWN_COLUMN', `/datasets/${name}/key`, `dataset '${name}' has no column '${cfg.key}' to use as its key (${table.columnsNote()}${table.columnNames.length === 0 ? `; ${DECLARE_COLUMNS}` : ''})`));
          return;
        }
        // Ids past 2^53 were rounded as the file was read: two keys may have merged.
        const unsafe = cfg.key !== undefined ? unsafeIdProblem(table, cfg.key, 'its key') : undefined;
        if (unsafe) {
          diagnostics.push(at(loc.parsed, loc.file, 'DATASET_LOAD_FAILED', `/datasets/${name}/key`, unsafe));
          return;
        }
        datasets.set(name, table);
        datasetIds.set(name, id);
      } catch (err) {
        const held = opts.heldDataset?.(name, path, id);
        if (held) {
          datasets.set(name, held.table);
          datasetIds.set(name, held.id);
          return;
        }
        const msg = err instanceof AirmailError ? err.message
          : (err as NodeJS.ErrnoException).code === 'ENOENT' ? await missingFile(name, cfg.path ?? '', path)
          : `cannot read ${path}: ${(err as Error).message}`;
        diagnostics.push(at(loc.parsed, loc.file, 'DATASET_LOAD_FAILED', `/datasets/${name}/path`, msg));
      }
    }),
  );

  // ---- deployments: registry models served on their own
  const dep = await loadDeployments(located.map((l) => ({ file: l.file, list: l.config.deployments, at: (code: ErrorCode, ptr: string, msg: string) => at(l.parsed, l.file, code, ptr, msg) })), datasets, opts.models);
  diagnostics.push(...dep.diagnostics);

  // ---- pipelines
  const failedDatasets = new Map([...datasetDefs].filter(([n]) => !datasets.has(n)).map(([n, d]) => [n, d.loc.file]));
  const failedKeys = new Map([...datasetDefs].filter(([n, d]) => !datasets.has(n) && d.cfg.key !== undefined).map(([n, d]) => [n, d.cfg.key!]));
  const compiled = new Map<string, CompiledPipeline & { file: string }>();
  const presetProblems = new Set<string>();
  const locByFile = new Map(located.map((l) => [l.file, l]));
  for (const p of pipelines) {
    if (refused.has(p.loc.file)) continue;
    const r = await compilePipeline(p.cfg, p.ptr, {
      operators,
      presets,
      contexts,
      datasets,
      datasetIds,
      failedDatasets,
      failedKeys,
      operatorModules,
      validators,
      resolvePath: opts.sealed?.has(p.loc.file) ? sealedPath : (x) => resolveFrom(p.loc.file, x),
      ...(opts.models ? { models: opts.models } : {}),
      watchFile: (path, stamp) => cache.watchFile(path, stamp),
    }, p.loc.file);
    for (const d of r.diagnostics) {
      if (d.pointer === undefined) { diagnostics.push(d); continue; }
      // A problem of a preset's own parameters is located at its definition, and said once however many pipelines use it.
      const preset = /^\/operators\/([^/]+)\//.exec(d.pointer)?.[1]?.replace(/~1/g, '/').replace(/~0/g, '~');
      // So is a problem of a shared context (file-level `contexts:`), in the file that defines it.
      const shared = /^\/contexts\/([^/]+)/.exec(d.pointer)?.[1]?.replace(/~1/g, '/').replace(/~0/g, '~');
      const sharedLoc = shared !== undefined ? locByFile.get(contexts.get(shared)?.file ?? '') : undefined;
      const loc = preset !== undefined ? presetLoc.get(preset) ?? p.loc : sharedLoc ?? p.loc;
      const once = preset !== undefined || sharedLoc !== undefined;
      const located_ = { ...d, file: loc.file, ...loc.parsed.locate(d.pointer), ...(sharedLoc ? { message: d.message.replace(/^pipeline '[^']*': /, '') } : {}) };
      const key = `${located_.code}|${located_.file}|${located_.pointer}|${located_.message}`;
      if (once && presetProblems.has(key)) continue;
      if (once) presetProblems.add(key);
      diagnostics.push(located_);
    }
    if (r.pipeline) compiled.set(p.cfg.name, { ...r.pipeline, file: p.loc.file });
  }
  // Fallbacks name other pipelines of the set: checked once every pipeline compiled.
  const names = pipelines.map((p) => p.cfg.name);
  const experimentNames = new Set(located.flatMap((l) => (l.config.experiments ?? []).map((x) => x.name)));
  for (const p of pipelines) {
    const c = compiled.get(p.cfg.name);
    if (c?.file !== p.loc.file) continue;
    for (const f of fallbackProblems(c, (n) => compiled.get(n), names, (n) => names.includes(n), (n) => experimentNames.has(n))) diagnostics.push(at(p.loc.parsed, p.loc.file, 'CONFIG_INVALID', `${p.ptr}/fallback${f.at}`, f.message));
  }
  // Every shared context is checked where it is defined, used or not (a used one's problems were said above: once).
  for (const [name, cx] of contexts) {
    const loc = locByFile.get(cx.file);
    if (!loc || refused.has(cx.file)) continue;
    checkContext(name, cx.config, cx.pointer, datasets, failedDatasets, (code, pointer, message) => {
      const d = at(loc.parsed, loc.file, code, pointer, message);
      const key = `${d.code}|${d.file}|${d.pointer}|${d.message}`;
      if (presetProblems.has(key)) return;
      presetProblems.add(key);
      diagnostics.push(d);
    });
  }
  for (const u of unusedPresetProblems(presets, pipelines.filter((p) => !refused.has(p.loc.file)).map((p) => p.cfg), operators, validators)) {
    const loc = presetLoc.get(u.preset)!;
    diagnostics.push(at(loc.parsed, loc.file, u.code, u.pointer, u.message));
  }
  if (brokenOperatorFiles.length > 0) {
    // The operator may be the one the broken file would have defined: say so where its name is used.
    const hint = ` (it may be defined in ${[...new Set(brokenOperatorFiles)].join(', ')}, which failed to load: see that error)`;
    // Not where the name is a dataset's (it is not an operator), nor on the line at a use that points to a
    // preset's definition (that one carries the hint already).
    const operatorName = (m: string): boolean => !m.includes('; it is a dataset: ') && !m.includes(', reported at its definition in ');
    diagnostics.forEach((d, i) => { if (d.code === 'UNKNOWN_OPERATOR' && operatorName(d.message)) diagnostics[i] = { ...d, message: d.message + hint }; });
  }
  const exp = compileExperiments(located.map((l) => ({ file: l.file, list: l.config.experiments, at: (code: ErrorCode, ptr: string, msg: string) => at(l.parsed, l.file, code, ptr, msg) })), { defined: new Map([...pipelineNames].map(([n, l]) => [n, l.file])), compiled });
  diagnostics.push(...exp.diagnostics);
  if (diagnostics.length > 0) return { ok: false, diagnostics, operatorFolders, operatorVersions, causedBy };
  return { ok: true, diagnostics: [], snapshot: { pipelines: compiled, datasets, operators, operatorModules, operatorFolders, operatorFiles, presets, contexts, datasetIds, deployments: dep.deployments, experiments: exp.experiments } };
}

function at(parsed: ParsedText, file: string, code: ErrorCode, pointer: string, message: string): Diagnostic {
  return { code, message, file, pointer, ...parsed.locate(pointer) };
}

function resolveFrom(file: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dirname(file), p);
}
