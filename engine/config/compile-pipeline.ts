/**
 * One pipeline config → a frozen plan, its request schema, or every problem
 * found in it (never just the first). Runs once per config version, never
 * per request.
 */
import { inspectModelFile } from '../onnx.js';
import { createHash } from 'node:crypto';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { CheckEnv, ColumnType, JsonSchema, ModelResolver, OperatorDefinition, OperatorKind, ValueSite } from '../api.js';
import type { Diagnostic, ErrorCode } from '../errors.js';
import { unsafeIdProblem, type Table } from '../dataset.js';
import { findRefSites, placeholderFor, setAt, subSchema, pathToPointer, unescapeLiterals, type RefSite } from './refs.js';
import { columnType, datasetColumn, declaredInput, inputSchemaFromColumn, inputSchemaFromParameter, typeSites, type TypedColumn } from './typing.js';
import { planOperations, type Plan, type PlanContext, type PlanStep } from './plan.js';
import type { ContextConfig, PipelineConfig, PresetConfig, StepConfig } from './schema.js';
import { didYouMean, withDatasetHint, type ParamValidator } from './validators.js';
import { checkStructure, soundParts } from './structure.js';
import { resolveItemsDataset } from './items-dataset.js';
import { fallbackSpec, type FallbackSpec } from './fallback-check.js';
import { refRoleProblems } from './ref-roles.js';
import { checkContext } from './context-check.js';
import { checkColumnFlow } from './column-flow.js';
import { hook, hookAsync, hookProblem } from './operator-hooks.js';

export interface CompileScope {
  readonly operators: ReadonlyMap<string, OperatorDefinition>;
  readonly presets: ReadonlyMap<string, PresetConfig & { readonly file?: string }>;
  /** Contexts declared at file level, shared by every pipeline that references them. */
  readonly contexts: ReadonlyMap<string, { readonly config: ContextConfig; readonly pointer: string; readonly file?: string }>;
  readonly datasets: ReadonlyMap<string, Table>;
  /** Content identity of each dataset (part of the version hash). */
  readonly datasetIds: ReadonlyMap<string, string>;
  /** Datasets defined but not loaded (their own problem is reported), name → the file defining them. */
  readonly failedDatasets?: ReadonlyMap<string, string>;
  /** The declared `key` of each of those (the items dataset a pipeline may be missing). */
  readonly failedKeys?: ReadonlyMap<string, string>;
  /** Content-hash URLs of the custom operator modules loaded (part of the version hash: an edited operator is a new version). */
  readonly operatorModules?: readonly string[];
  readonly validators: ParamValidator;
  resolvePath(path: string): string;
  /** The model registry, when the engine has one. */
  readonly models?: ModelResolver;
  /** Told of each model file read (path, `mtimeMs:size`): an edit of it reloads the configs. */
  watchFile?(path: string, stamp: string): void;
}

export interface CompiledPipeline {
  readonly name: string;
  readonly description: string | undefined;
  readonly version: string;
  readonly plan: Plan;
  /** Steps in the order the config reads (for explain). */
  readonly literal: readonly PlanStep[];
  readonly inputSchema: JsonSchema;
  readonly deadlineMs: number | undefined;
  /** Workers it may hold at once (`max_workers`; bulkhead.ts). */
  readonly maxWorkers: number | undefined;
  readonly datasets: readonly string[];
  /** `fallback:`, checked against the other pipelines by fallbackProblems (config/fallback-check.ts). */
  readonly fallback?: FallbackSpec;
}

export type Report = (code: ErrorCode, pointer: string, message: string) => void;

const KIND_WORD: Record<OperatorKind, string> = { source: 'a source', filter: 'a filter', score: 'a scorer', transform: 'a transform' };

export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toLowerCase();
}

export async function compilePipeline(given: PipelineConfig, base: string, scope: CompileScope, file: string | undefined): Promise<{ pipeline?: CompiledPipeline; diagnostics: Diagnostic[] }> {
  const diagnostics: Diagnostic[] = [];
  const report: Report = (code, pointer, message) => diagnostics.push({ code, message: `pipeline '${given.name}': ${message}`, pointer, ...(file ? { file } : {}) });
  // Structural problems are reported with the semantic ones of every part that is sound.
  const structure = checkStructure(given, base);
  for (const p of structure.problems) report('CONFIG_INVALID', p.path, p.message);
  if (structure.fatal) return { diagnostics };
  const cfg = soundParts(given, base, structure);
  const inputSchemas = new Map<string, JsonSchema>();
  // How an input's schema was found: 2 = from a column (context key, compared value), 1 = from a parameter's schema.
  const inputRank = new Map<string, number>();
  const offerInput = (name: string, schema: JsonSchema, rank: number): void => {
    if ((inputRank.get(name) ?? 0) >= rank) return;
    inputSchemas.set(name, schema);
    inputRank.set(name, rank);
  };
  const datasetsUsed = new Set<string>();

  const { name: itemsDataset, note: itemsNote, fatal: itemTypeUnknown } = resolveItemsDataset(cfg, base, scope, report);
  if (itemTypeUnknown) return { diagnostics };
  if (itemsDataset) datasetsUsed.add(itemsDataset);

  // ---- contexts: the pipeline's own, plus shared ones (file-level `contexts:`) that its steps reference
  const contexts: PlanContext[] = [];
  const contextByName = new Map<string, PlanContext>();
  const addContext = (name: string, c: ContextConfig, ptr: string): PlanContext | undefined => {
    const checked = checkContext(name, c, ptr, scope.datasets, scope.failedDatasets, report);
    if (!checked) return undefined;
    datasetsUsed.add(c.dataset);
    const { table, column } = checked;
    for (const input of checked.inputs) offerInput(input, inputSchemaFromColumn(columnType(table.column(column)), false), 2);
    const pc: PlanContext = { name, dataset: c.dataset, column, key: c.key };
    contexts.push(pc);
    contextByName.set(name, pc);
    return pc;
  };
  for (const [name, c] of Object.entries(cfg.context ?? {})) addContext(name, c, `${base}/context/${name}`);
  // Shared contexts that failed (reported once, where they are defined): a reference to one is not "undeclared".
  const brokenShared = new Set<string>();
  const brokenSaid = new Set<string>();
  const contextNamed = (name: string): PlanContext | undefined => {
    const own = contextByName.get(name);
    if (own) return own;
    const shared = scope.contexts.get(name);
    if (!shared || brokenShared.has(name)) return undefined;
    const pc = addContext(name, shared.config, shared.pointer);
    if (!pc) brokenShared.add(name);
    return pc;
  };

  const models = scope.models;
  const env: CheckEnv = {
    itemType: cfg.item_type,
    itemsDataset,
    datasetColumns: (name) => scope.datasets.get(name)?.columnNames,
    datasetColumnType: (name, column) => datasetColumn(scope.datasets.get(name), column)?.type,
    datasetIdProblem: (name, column) => {
      const ds = scope.datasets.get(name);
      return ds ? unsafeIdProblem(ds, column, 'read as item ids') : undefined;
    },
    resolvePath: (p) => scope.resolvePath(p),
    // The engine names the pipeline when a newer version of its model is refused.
    ...(models ? { models: { resolve: (spec) => models.resolve(spec, `pipeline '${given.name}'`) } } : {}),
    modelFile: async (path) => {
      const info = await inspectModelFile(path);
      if (info.stamp) scope.watchFile?.(path, info.stamp);
      return info;
    },
    watchMissing: (path) => scope.watchFile?.(path, 'missing'),
  };

  const typing = new Map<PlanStep, { compares: readonly ValueSite[]; writeTypes: Readonly<Record<string, ColumnType>>; from: readonly string[]; schema: JsonSchema; reportParam: ParamReport }>();
  // With no near name to suggest, say where the names are listed.
  const CATALOGUE_HINT = ' (`airmail operators` or GET /operators lists the installed operators and presets)';
  const compileStep = async (raw: StepConfig | string, ptr: string, allowed: readonly OperatorKind[], where: string): Promise<PlanStep | undefined> => {
    const stepCfg: StepConfig = typeof raw === 'string' ? { name: raw } : raw;
    const preset = scope.presets.get(stepCfg.name);
    const opName = preset ? preset.use : stepCfg.name;
    const def = scope.operators.get(opName);
    if (!def && preset) {
      // Said where the preset defines it (once, as for a preset no pipeline uses); a use from another
      // file says where. Reported at the use only, a server's startup (which sets the using file aside
      // and loads the defining one again) and a reload or `airmail validate` gave different problems.
      const said = `preset '${stepCfg.name}' uses operator '${opName}', which is not installed`;
      diagnostics.push({ code: 'UNKNOWN_OPERATOR', message: `${said}${didYouMean(opName, scope.operators.keys())}`, pointer: `/operators${pathToPointer([stepCfg.name])}/use`, ...((preset.file ?? file) !== undefined ? { file: preset.file ?? file } : {}) });
      if (preset.file !== undefined && preset.file !== file) report('UNKNOWN_OPERATOR', typeof raw === 'string' ? ptr : `${ptr}/name`, `${said}, reported at its definition in ${basename(preset.file)}`);
      return undefined;
    }
    if (!def) {
      const all = [...scope.presets.keys(), ...scope.operators.keys()];
      report('UNKNOWN_OPERATOR', typeof raw === 'string' ? ptr : `${ptr}/name`, `'${stepCfg.name}' is neither an installed operator nor a preset defined under 'operators'${scope.datasets.has(stepCfg.name) ? `; it is a dataset: read it with {name: Lookup, parameters: {dataset: ${stepCfg.name}}}` : didYouMean(stepCfg.name, all) || CATALOGUE_HINT}`);
      return undefined;
    }
    if (!allowed.includes(def.kind)) {
      report('CONFIG_INVALID', ptr, `'${stepCfg.name}' is ${KIND_WORD[def.kind]}${preset ? ` (${def.name})` : ''}; ${where} takes ${allowed.map((k) => KIND_WORD[k]).join(' or ')}`);
      return undefined;
    }
    let params: Record<string, unknown> = { ...(preset?.parameters ?? {}), ...(stepCfg.parameters ?? {}) };
    const given = Object.keys(params);
    // Paths written in a preset resolve against the preset's own file.
    const presetStrings = new Set<string>();
    const collect = (v: unknown): void => {
      if (typeof v === 'string') presetStrings.add(v);
      else if (v && typeof v === 'object') Object.values(v).forEach(collect);
    };
    collect(preset?.parameters);
    const stepEnv: CheckEnv = preset?.file
      ? { ...env, resolvePath: (x) => (presetStrings.has(x) && !isAbsolute(x) ? resolve(dirname(preset.file!), x) : env.resolvePath(x)) }
      : env;
    const pptr = `${ptr}/parameters`;
    const reportParam = paramReporter(stepCfg, preset, def.name, pptr, file, report, diagnostics);
    const { sites, malformed } = findRefSites(params);
    for (const m of malformed) reportParam('UNKNOWN_REFERENCE', pathToPointer(m.path), `'${m.text}' is not a valid reference (use $input or $context.column; write $$ for a literal $)`);
    let refsOk = true;
    for (const s of sites) {
      if (s.ref.kind === 'context') {
        const c = contextNamed(s.ref.context);
        if (!c) {
          refsOk = false;
          if (brokenShared.has(s.ref.context)) {
            // Said once per pipeline, at its first use; the problem itself is reported where the context is defined.
            if (!brokenSaid.has(s.ref.context)) reportParam('UNKNOWN_REFERENCE', pathToPointer(s.path), `${s.text}: the shared context '${s.ref.context}' failed to load (its problem is reported in ${scope.contexts.get(s.ref.context)?.file ?? 'the file that defines it'})`, true);
            brokenSaid.add(s.ref.context);
            continue;
          }
          reportParam('UNKNOWN_REFERENCE', pathToPointer(s.path), `${s.text} refers to context '${s.ref.context}', which neither the pipeline nor a shared contexts: section declares${didYouMean(s.ref.context, [...contextByName.keys(), ...scope.contexts.keys()])}`, true);
          continue;
        }
        const ds = scope.datasets.get(c.dataset);
        if (ds && !ds.has(s.ref.column)) {
          refsOk = false;
          reportParam('UNKNOWN_COLUMN', pathToPointer(s.path), `${s.text}: dataset '${c.dataset}' has no column '${s.ref.column}'${didYouMean(s.ref.column, ds.columnNames)}`, true);
        }
      } else if (s.ref.kind === 'time') {
        continue; // added only by typing, below: findRefSites finds $ references
      } else if (contextByName.has(s.ref.name) || scope.contexts.has(s.ref.name)) {
        // `$client` where `client` is a context: a column of its row was meant, or the names collide.
        refsOk = false;
        reportParam('UNKNOWN_REFERENCE', pathToPointer(s.path), `${s.text} would be a request input, but '${s.ref.name}' is a context: write $${s.ref.name}.<column> for a column of its row, or give the input another name`, true);
      } else {
        offerInput(s.ref.name, inputSchemaFromParameter(subSchema(def.parameters, s.path)), 1);
      }
    }
    for (const p of refRoleProblems(def, params, stepEnv, sites)) { refsOk = false; reportParam('BAD_PARAMETER', p.path, p.message); }
    // Check literal parameters with each reference replaced by a stand-in of the expected type.
    let probe: unknown = structuredClone(params);
    for (const s of sites) probe = setAt(probe, s.path, placeholderFor(subSchema(def.parameters, s.path)));
    const refPointers = sites.map((s) => pathToPointer(s.path));
    const problems = scope.validators.check(def, probe).filter((p) => !refPointers.some((rp) => p.path === rp || p.path.startsWith(`${rp}/`)));
    for (const p of problems) reportParam('BAD_PARAMETER', p.path, p.message);
    if (problems.length > 0 || !refsOk) return reportParam.done();
    // Defaults filled by the validator on the probe are copied back onto the real parameters.
    params = mergeDefaults(probe as Record<string, unknown>, sites);
    try {
      if (def.normalize) params = (await def.normalize(params, stepEnv)) as Record<string, unknown>;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      report(code === 'MODEL_LOAD_FAILED' || code === 'REGISTRY_UNAVAILABLE' ? code : 'BAD_PARAMETER', pptr, `${stepCfg.name}: ${(err as Error).message}`);
      return undefined;
    }
    // A check that reads the pipeline's item type or items dataset may fail for one use of a preset
    // and not another: its problems are the use's. One that does not is about the parameters alone.
    let perPipeline = false;
    let readItems = false;
    const tracked: CheckEnv = {
      ...stepEnv,
      get itemType() { perPipeline = true; return stepEnv.itemType; },
      get itemsDataset() { perPipeline = readItems = true; return stepEnv.itemsDataset; },
    };
    try {
      const checked = [...(hook('check', () => def.check?.(params, tracked)) ?? [])];
      if (checked.length === 0 && def.verify) checked.push(...(await hookAsync('verify', () => def.verify!(params, tracked))));
      // A dataset that failed to load is no problem of this use: said once, where a preset names it.
      for (const p of checked) {
        // A problem of the pipeline's items dataset (none, ambiguous, failed to load) says why there is none.
        const why = itemsNote !== undefined && itemsDataset === undefined && readItems ? ` (${itemsNote})` : '';
        const msg = withDatasetHint(p.code, p.message, scope.datasets.keys(), scope.failedDatasets) + why;
        reportParam(p.code ?? 'BAD_PARAMETER', p.path, msg, perPipeline && msg.startsWith(p.message));
      }
      if (checked.length > 0) return reportParam.done();
      // `$$x` is the literal `$x` from here on (references sit at `sites`, whatever their text).
      params = unescapeLiterals(params);
      for (const d of collectDatasetNames(params)) if (scope.datasets.has(d)) datasetsUsed.add(d);
      const reads = (hook('reads', () => def.reads?.(params, stepEnv)) ?? []).filter((c) => !c.startsWith('$'));
      const writes = def.kind === 'score' ? [] : [...(hook('writes', () => def.writes?.(params, stepEnv)) ?? [])];
      const step: PlanStep = {
        label: stepCfg.name,
        use: def.name,
        kind: def.kind,
        params,
        sites: sites as RefSite[],
        reads,
        writes,
        given,
        rowwise: def.kind === 'filter' || (def.kind === 'transform' && def.rowwise === true),
        pure: def.pure === true,
        ...(def.pure !== true && def.memoTtlMs ? memoTtl(def.memoTtlMs(params)) : {}),
        pointer: ptr,
        ...(def.kind === 'score' ? { output: stepCfg.as ?? snakeCase(stepCfg.name), weight: stepCfg.weight ?? 1 } : {}),
      };
      reportParam.done();
      typing.set(step, { compares: hook('compares', () => def.compares?.(params, stepEnv)) ?? [], writeTypes: def.kind === 'score' ? {} : hook('writeTypes', () => def.writeTypes?.(params, stepEnv)) ?? {}, from: Object.keys(def.fixed ?? {}).map((k) => params[k]).filter((d): d is string => typeof d === 'string' && scope.datasets.has(d)), schema: def.parameters, reportParam });
      return step;
    } catch (err) {
      // An operator's own bug (a custom operator reading a parameter that is not there) is a problem
      // of the step that uses it, not the end of the load: the other pipelines still serve.
      const p = hookProblem(err, def.name);
      report(p.code, pptr, `${stepCfg.name}: ${p.message}`);
      return undefined;
    }
  };

  const init = cfg.initialization ?? {};
  const iptr = `${base}/initialization`;
  // A step left out (its problem is reported) would still have written columns: those are not
  // reported again as written by no step. By pointer: a scorer's output (from `as:` or its name,
  // whatever failed), another step's what its operator says of the parameters as given. An unknown
  // operator's columns cannot be told: nothing is assumed, so a misspelt column is still reported.
  const failed = new Map<string, readonly string[]>();
  const wouldWrite = (raw: unknown, scorer: boolean): readonly string[] => {
    const st = (typeof raw === 'string' ? { name: raw } : raw) as Partial<StepConfig> | null;
    if (!st || typeof st !== 'object' || typeof st.name !== 'string') return [];
    if (scorer) return [typeof st.as === 'string' ? st.as : snakeCase(st.name)];
    const preset = scope.presets.get(st.name);
    const def = scope.operators.get(preset ? preset.use : st.name);
    try {
      return (def?.writes?.({ ...(preset?.parameters ?? {}), ...(st.parameters ?? {}) }, env) ?? []).filter((c) => typeof c === 'string');
    } catch {
      return [];
    }
  };
  const compileList = async (list: (StepConfig | string)[] | undefined, ptr: string, kinds: OperatorKind[], where: string): Promise<PlanStep[]> => {
    const out: PlanStep[] = [];
    for (const [i, s] of (list ?? []).entries()) {
      const sp = `${ptr}/${i}`;
      const step = structure.bad(sp) ? undefined : await compileStep(s, sp, kinds, where);
      // A structural mistake beside the operator (`weight: two`, a misspelt key) hides nothing: the
      // step's name and parameters are still checked, though the step is left out.
      const sound = structure.bad(sp) && s !== null && typeof s === 'object' && typeof s.name === 'string'
        && !structure.problems.some((p) => p.path === sp) && !['name', 'parameters', 'as'].some((k) => structure.bad(`${sp}/${k}`))
        // A step without parameters and an unknown key (`parameter:`) most likely misspelt them: its
        // missing parameters would only repeat that mistake.
        && (s.parameters !== undefined || !structure.problems.some((p) => p.path.startsWith(`${sp}/`) && !p.path.startsWith(`${sp}/weight`)));
      if (sound) await compileStep({ name: s.name, ...(s.parameters !== undefined ? { parameters: s.parameters } : {}), ...(s.as !== undefined ? { as: s.as } : {}) }, sp, kinds, where);
      if (step) out.push(step);
      else failed.set(`${ptr}/${i}`, wouldWrite(s, kinds.includes('score')));
    }
    return out;
  };
  // `include:` (reported as unknown, with "did you mean 'includes'") is the includes: not a second problem.
  if ((!init.includes || init.includes.length === 0) && !structure.bad(`${iptr}/includes`) && !structure.bad(`${iptr}/include`)) report('CONFIG_INVALID', iptr, 'initialization.includes needs at least one source');
  if (init.scorer && init.scores) report('CONFIG_INVALID', iptr, "give either 'scorer:' or 'scores:', not both");
  const scorerKey = init.scorer ? 'scorer' : 'scores';
  const includes = await compileList(init.includes, `${iptr}/includes`, ['source'], 'includes');
  const excludes = await compileList(init.excludes, `${iptr}/excludes`, ['source'], 'excludes');
  const scorers = await compileList(init.scorer ?? init.scores, `${iptr}/${scorerKey}`, ['score'], scorerKey);
  const operations = await compileList(cfg.operations, `${base}/operations`, ['filter', 'transform'], 'operations');

  // ---- column flow: every column read must be written earlier or be hydratable from the items dataset (column-flow.ts)
  const itemsColumns = itemsDataset ? scope.datasets.get(itemsDataset)?.columnNames ?? [] : [];
  const returns = checkColumnFlow({ cfg, base, structure, includes, excludes, scorers, operations, failed, itemsDataset, itemsNote, itemsColumns }, report);

  // ---- values compared with columns: type the inputs referenced there, check the literals
  const itemsTable = itemsDataset ? scope.datasets.get(itemsDataset) : undefined;
  const written = new Map<string, TypedColumn>();
  for (const s of [...includes, ...excludes, ...operations]) {
    const t = typing.get(s)!;
    for (const [c, type] of Object.entries(t.writeTypes)) {
      // A column brought from a dataset the step names (Lookup's `columns:`): with its values, so that a column
      // read as text says which dataset and which value made it so (one bad cell of a CSV's number column).
      const from = t.from.map((d) => datasetColumn(scope.datasets.get(d), c)).find((x) => x?.type === type);
      written.set(c, from ? { ...from, label: `${from.label} (brought by ${s.label})` } : { type, label: `column '${c}' (written by ${s.label})` });
    }
  }
  for (const s of scorers) written.set(s.output!, { type: 'number', label: `column '${s.output}'` });
  if (scorers.length > 0) written.set('score', { type: 'number', label: "column 'score'" });
  const resolveSite = (site: ValueSite): TypedColumn | undefined =>
    site.dataset !== undefined ? datasetColumn(scope.datasets.get(site.dataset), site.column) : written.get(site.column) ?? datasetColumn(itemsTable, site.column);
  for (const s of [...includes, ...excludes, ...scorers, ...operations]) {
    const t = typing.get(s)!;
    const out = typeSites(s.params, t.compares, s.sites, (path) => subSchema(t.schema, path), resolveSite, (ctx, c) => { const pc = contextNamed(ctx); return pc && datasetColumn(scope.datasets.get(pc.dataset), c); });
    if (out.times.length > 0) (s.sites as RefSite[]).push(...out.times);
    for (const i of out.inputs) offerInput(i.name, i.schema, 2);
    // Compared with the pipeline's columns: the use's problem.
    for (const p of out.problems) t.reportParam('BAD_PARAMETER', p.path, p.message, true);
  }

  // ---- declared inputs
  for (const [name, spec] of Object.entries(cfg.inputs ?? {})) {
    inputSchemas.set(name, declaredInput(name, spec as Record<string, unknown>, inputSchemas.get(name), (m) => report('CONFIG_INVALID', `${base}/inputs${pathToPointer([name])}/type`, m)));
  }
  if (diagnostics.length > 0) return { diagnostics };

  const required = [...inputSchemas.entries()].filter(([, s]) => s['default'] === undefined).map(([k]) => k);
  const inputSchema: JsonSchema = {
    type: 'object',
    properties: Object.fromEntries(inputSchemas),
    required,
    additionalProperties: false,
  };
  const { pre, post } = planOperations({ name: cfg.name, itemType: cfg.item_type, itemsDataset, contexts, includes, excludes, scorers, operations, returns });
  const reusable = (s: PlanStep): boolean => s.pure || s.memoTtlMs !== undefined;
  const memoSteps = [...includes, ...pre];
  const memo = includes.length > 0 && memoSteps.every(reusable);
  // No excludes and nothing after the candidates that is not pure: the whole result is a function of the bound parameters.
  const memoResult = memo && excludes.length === 0 && [...scorers, ...post].every(reusable);
  const ttls = (memoResult ? [...memoSteps, ...scorers, ...post] : memoSteps).flatMap((s) => (s.pure ? [] : [s.memoTtlMs!]));
  // Every timestamp column the pipeline may hold (the items dataset's, those steps bring): answers and why show them as ISO text.
  const instants = [...new Set([...(itemsTable?.columnNames.filter((c) => itemsTable.holdsInstants(c) && written.get(c) === undefined) ?? []), ...[...written].filter(([, t]) => t.type === 'timestamp').map(([c]) => c)])];
  const draft = { name: cfg.name, itemType: cfg.item_type, itemsDataset, contexts, includes, excludes, pre, scorers, post, returns, ...(instants.length > 0 ? { instants } : {}), memo, memoResult, ...(memo && ttls.length ? { memoTtlMs: Math.min(...ttls) } : {}) };
  const datasetIds = [...datasetsUsed].sort().map((d) => [d, scope.datasetIds.get(d)]);
  // A pinned model copy lives in a folder of this process: only its name (the content's sha256 and
  // the file name) goes into the version, and a path inside the config's folder goes in relative to
  // it, so the same configs get the same version in every process, wherever they are mounted.
  const dir = file ? dirname(file) : undefined;
  const stable = (k: string, v: unknown): unknown =>
    typeof v !== 'string' ? v : k === 'pinned' ? basename(v) : dir && isAbsolute(v) && v.startsWith(dir + sep) ? relative(dir, v) : v;
  const fallback = cfg.fallback !== undefined ? fallbackSpec(cfg.fallback) : undefined;
  const version = createHash('sha256').update(JSON.stringify({ draft, datasetIds, inputSchema, ...(scope.operatorModules?.length ? { code: scope.operatorModules } : {}), ...(fallback ? { fallback } : {}) }, stable)).digest('hex').slice(0, 12);
  const plan: Plan = deepFreeze({ ...draft, version });
  return {
    diagnostics,
    pipeline: deepFreeze({
      name: cfg.name,
      description: cfg.description,
      version,
      plan,
      literal: [...includes, ...excludes, ...scorers, ...operations],
      inputSchema,
      deadlineMs: cfg.deadline_ms,
      maxWorkers: cfg.max_workers,
      datasets: [...datasetsUsed].sort(),
      ...(fallback ? { fallback } : {}),
    }),
  };
}

/** Reports one parameter problem (`path` inside the step's merged parameters); `done()` closes the step's reports. */
type ParamReport = ((code: ErrorCode, path: string, message: string, perPipeline?: boolean) => void) & { done(): undefined };

/**
 * Where a parameter problem of a step is reported: at the preset's definition (`operators:` NAME
 * `parameters`, in the preset's file) when the preset alone set that parameter, once however many
 * pipelines use it (the loader drops repeats); else at the use, whose own or merged parameters are
 * wrong (one it overrides, or a required one neither gives), or when the problem depends on the
 * pipeline (`perPipeline`: its contexts, item type or columns). A use of a preset from another file,
 * broken at its definition, also gets one line there saying so: its file is not served either, and
 * it says why, instead of a knock-on "not a preset" once the other file is set aside.
 */
function paramReporter(step: StepConfig, preset: (PresetConfig & { readonly file?: string }) | undefined, operator: string, pptr: string, file: string | undefined, report: Report, diagnostics: Diagnostic[]): ParamReport {
  const own = step.parameters ?? {};
  const fromPreset = preset?.parameters ?? {};
  const definition = `/operators${pathToPointer([step.name])}/parameters`;
  let atDefinition = false;
  const fn = (code: ErrorCode, path: string, message: string, perPipeline = false): void => {
    const top = path.split('/')[1]?.replace(/~1/g, '/').replace(/~0/g, '~');
    if (preset && !perPipeline && top !== undefined && Object.hasOwn(fromPreset, top) && !Object.hasOwn(own, top)) {
      atDefinition = true;
      const where = preset.file ?? file;
      diagnostics.push({ code, message: `preset '${step.name}' (${operator}): ${message}`, pointer: definition + path, ...(where ? { file: where } : {}) });
    } else report(code, pptr + path, `${step.name}${preset ? ` (${operator})` : ''}: ${message}`);
  };
  return Object.assign(fn, {
    done(): undefined {
      if (atDefinition && preset?.file !== undefined && preset.file !== file) {
        report('BAD_PARAMETER', pptr, `${step.name}: preset '${step.name}' has invalid parameters, reported at its definition in ${basename(preset.file)}`);
      }
      atDefinition = false;
      return undefined;
    },
  });
}

function collectDatasetNames(params: Record<string, unknown>): string[] {
  const d = params['dataset'];
  return typeof d === 'string' ? [d] : [];
}

function mergeDefaults(probe: Record<string, unknown>, sites: readonly RefSite[]): Record<string, unknown> {
  let out: unknown = probe;
  for (const s of sites) out = setAt(out, s.path, s.text);
  return out as Record<string, unknown>;
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v) && !ArrayBuffer.isView(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
}

function memoTtl(ms: number | undefined): { memoTtlMs?: number } {
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? { memoTtlMs: ms } : {};
}
