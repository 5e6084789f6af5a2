/**
 * Presets that no pipeline uses are checked on their own at load: before, a preset was checked only
 * through a pipeline that used it, so a shared file's typo (`use: Srot`, `ordr: desc`) loaded in
 * silence and surfaced in whichever pipeline first used it, maybe weeks later. What can be judged
 * without a pipeline is: the operator is installed, and the given parameters are known and of the
 * right type. A required parameter may be left to each use, and references stand in for values of
 * the type the parameter takes.
 */
import type { OperatorDefinition } from '../api.js';
import type { ErrorCode } from '../errors.js';
import { findRefSites, pathToPointer, placeholderFor, setAt, subSchema } from './refs.js';
import type { PipelineConfig, PresetConfig } from './schema.js';
import { didYouMean, type ParamValidator } from './validators.js';

export interface PresetProblem {
  readonly preset: string;
  readonly code: ErrorCode;
  /** Under the file's root, e.g. `/operators/Name/parameters/by`. */
  readonly pointer: string;
  readonly message: string;
}

/** Every string a pipeline config holds: a preset named anywhere in it counts as used (and is checked there). */
function strings(v: unknown, into: Set<string>): Set<string> {
  if (typeof v === 'string') into.add(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, into);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x, into);
  return into;
}

export function unusedPresetProblems(
  presets: ReadonlyMap<string, PresetConfig>,
  pipelines: readonly PipelineConfig[],
  operators: ReadonlyMap<string, OperatorDefinition>,
  validators: ParamValidator,
): PresetProblem[] {
  const used = new Set<string>();
  for (const p of pipelines) strings(p, used);
  const out: PresetProblem[] = [];
  for (const [name, preset] of presets) {
    if (used.has(name)) continue;
    const base = `/operators${pathToPointer([name])}`;
    const def = operators.get(preset.use);
    if (!def) {
      out.push({ preset: name, code: 'UNKNOWN_OPERATOR', pointer: `${base}/use`, message: `preset '${name}' uses operator '${preset.use}', which is not installed${didYouMean(preset.use, operators.keys())}` });
      continue;
    }
    const params = preset.parameters ?? {};
    const { sites } = findRefSites(params);
    let probe: unknown = structuredClone(params);
    for (const s of sites) probe = setAt(probe, s.path, placeholderFor(subSchema(def.parameters, s.path)));
    const refs = sites.map((s) => pathToPointer(s.path));
    for (const p of validators.check(def, probe, { partial: true })) {
      if (refs.some((r) => p.path === r || p.path.startsWith(`${r}/`))) continue;
      out.push({ preset: name, code: 'BAD_PARAMETER', pointer: `${base}/parameters${p.path}`, message: `preset '${name}' (${def.name}): ${p.message}` });
    }
  }
  return out;
}
