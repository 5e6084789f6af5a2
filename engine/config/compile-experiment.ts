/**
 * `experiments:` compiled once at load, with the pipelines of the same config set: every arm is a
 * pipeline of the set (not another experiment), weights are positive numbers that give each arm at
 * least one of the BUCKETS, the unit is an integer, number or string input that every arm takes,
 * the arms agree on their item type and on every input they share (a client sends one set of
 * inputs, whichever arm it lands in), and the name is no pipeline's. A reload that removes or
 * renames an arm is refused here (validate-then-swap keeps the last good set), naming both.
 *
 * ```yaml
 * experiments:
 * - name: home_feed            # served at /pipelines/home_feed
 *   unit: $client_id           # hashed (with the salt, default: the name) to pick the arm
 *   salt: home_feed_2024_06    # optional: a new salt reshuffles every unit
 *   default: home_feed_v1      # optional: the arm of a request without client_id (else a 422)
 *   arms:
 *   - {pipeline: home_feed_v1, weight: 90}
 *   - {pipeline: home_feed_v2, weight: 10}
 * ```
 */
import { createHash } from 'node:crypto';
import type { JsonSchema } from '../api.js';
import type { Diagnostic, ErrorCode } from '../errors.js';
import { FIXED_LABELS } from '../observe/labels.js';
import type { CompiledPipeline } from './compile-pipeline.js';
import type { ExperimentConfig } from './experiment-schema.js';
import { typeWords } from './fallback-check.js';
import { RESERVED_NAMES } from './sealed.js';
import { didYouMean } from './validators.js';

/** The buckets a unit's hash falls in; arm i owns [start_i, end_i) (see engine/experiments.ts). */
export const BUCKETS = 10_000;

/** The query parameter that forces an arm (QA); no arm may take an input of that name. */
export const ARM_QUERY = 'arm';

export interface ExperimentArm {
  readonly pipeline: string;
  readonly weight: number;
  /** weight / sum of the weights. */
  readonly share: number;
  /** [first bucket, end bucket): the buckets this arm owns. */
  readonly buckets: readonly [number, number];
}

export interface CompiledExperiment {
  readonly name: string;
  readonly description: string | undefined;
  readonly file: string;
  /** The input whose value is hashed (without the `$`). */
  readonly unit: string;
  readonly salt: string;
  readonly arms: readonly ExperimentArm[];
  readonly default: string | undefined;
  readonly itemType: string;
  /** What a client sends: every arm's inputs (they agree where they share one); required if any arm requires it. */
  readonly inputSchema: JsonSchema;
  /** A hash of the assignment (name, salt, unit, arms and weights, default): not of the arms' versions. */
  readonly version: string;
}

export interface ExperimentSource {
  readonly file: string;
  readonly list: readonly ExperimentConfig[] | undefined;
  at(code: ErrorCode, pointer: string, message: string): Diagnostic;
}

const UNIT = /^\$([A-Za-z_][A-Za-z0-9_]*)$/;

/**
 * Bucket boundaries: arm i ends at floor(BUCKETS * (w_1 + ... + w_i) / W) (doubles), the last at
 * BUCKETS. Changing weights moves only the units between an old and a new boundary.
 */
export function armBuckets(weights: readonly number[]): [number, number][] {
  const total = weights.reduce((a, b) => a + b, 0);
  let cum = 0;
  let start = 0;
  return weights.map((w, i) => {
    cum += w;
    const end = i === weights.length - 1 ? BUCKETS : Math.floor((BUCKETS * cum) / total);
    const r: [number, number] = [start, end];
    start = end;
    return r;
  });
}

type Props = Record<string, JsonSchema>;
const propsOf = (p: CompiledPipeline): Props => (p.inputSchema['properties'] ?? {}) as Props;
const requiredOf = (p: CompiledPipeline): readonly string[] => (p.inputSchema['required'] ?? []) as string[];
const typesOf = (s: JsonSchema): string[] => (Array.isArray(s['type']) ? (s['type'] as string[]) : typeof s['type'] === 'string' ? [s['type']] : []);

export function compileExperiments(
  sources: readonly ExperimentSource[],
  pipelines: { readonly defined: ReadonlyMap<string, string>; readonly compiled: ReadonlyMap<string, CompiledPipeline> },
): { experiments: Map<string, CompiledExperiment>; diagnostics: Diagnostic[] } {
  const experiments = new Map<string, CompiledExperiment>();
  const files = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  for (const src of sources) {
    (src.list ?? []).forEach((x, i) => {
      const ptr = `/experiments/${i}`;
      const say = (code: ErrorCode, at: string, message: string): void => void diagnostics.push(src.at(code, `${ptr}${at}`, `experiment '${x.name}': ${message}`));
      const before = diagnostics.length;
      if (files.has(x.name)) return say('DUPLICATE_NAME', '/name', `it is also defined in ${files.get(x.name)}`);
      files.set(x.name, src.file);
      if (pipelines.defined.has(x.name)) say('DUPLICATE_NAME', '/name', `pipeline '${x.name}' in ${pipelines.defined.get(x.name)} has the same name; both would be served at /pipelines/${x.name}: rename the pipeline or the experiment`);
      if (RESERVED_NAMES.has(x.name) || FIXED_LABELS.has(x.name)) say('CONFIG_INVALID', '/name', `'${x.name}' is a reserved name; choose another`);
      const unit = UNIT.exec(x.unit)?.[1];
      if (unit === undefined) say('CONFIG_INVALID', '/unit', `unit must be a request input written $name (such as $client_id), not ${JSON.stringify(x.unit)}`);
      if (x.arms.length === 0) say('CONFIG_INVALID', '/arms', 'it needs at least one arm ({pipeline: NAME, weight: N})');
      const seen = new Set<string>();
      const arms: CompiledPipeline[] = [];
      x.arms.forEach((a, j) => {
        const at = `/arms/${j}`;
        if (seen.has(a.pipeline)) say('CONFIG_INVALID', `${at}/pipeline`, `arm '${a.pipeline}' is listed twice; give it one weight`);
        seen.add(a.pipeline);
        if (!Number.isFinite(a.weight) || a.weight <= 0) say('CONFIG_INVALID', `${at}/weight`, `arm '${a.pipeline}': weight must be a positive number (shares are weight / sum of weights), not ${a.weight}; to stop an arm, remove it`);
        const p = pipelines.compiled.get(a.pipeline);
        if (p) arms.push(p);
        else if (!pipelines.defined.has(a.pipeline)) {
          const other = sources.some((s) => s.list?.some((y) => y.name === a.pipeline));
          say('CONFIG_INVALID', `${at}/pipeline`, other ? `arm '${a.pipeline}' is an experiment; an arm is a pipeline (experiments do not nest)` : `arm '${a.pipeline}' is no pipeline of the configs${didYouMean(a.pipeline, pipelines.defined.keys())}${pipelines.defined.size ? ` (pipelines: ${[...pipelines.defined.keys()].sort().join(', ')})` : ''}; an arm removed or renamed must be taken out of the experiment too`);
        } else {
          // Its own errors are reported where it is defined; said here too, so that the experiment is left out
          // with it at startup (not reported a second time, misleadingly, as naming no pipeline).
          say('CONFIG_INVALID', `${at}/pipeline`, `arm '${a.pipeline}' failed to load (see its errors), so the experiment cannot serve it`);
        }
      });
      if (diagnostics.length === before && x.arms.every((a) => Number.isFinite(a.weight) && a.weight > 0)) {
        armBuckets(x.arms.map((a) => a.weight)).forEach(([s, e], j) => {
          if (e <= s) say('CONFIG_INVALID', `/arms/${j}/weight`, `arm '${x.arms[j]!.pipeline}': weight ${x.arms[j]!.weight} gives it no bucket of ${BUCKETS} (a share under 1/${BUCKETS}); raise it or remove the arm`);
        });
      }
      if (x.default !== undefined && !x.arms.some((a) => a.pipeline === x.default)) say('CONFIG_INVALID', '/default', `default '${x.default}' is not one of its arms (${x.arms.map((a) => a.pipeline).join(', ')})`);
      if (unit !== undefined && arms.length === x.arms.length) checkArms(x, unit, arms, say);
      if (diagnostics.length > before || unit === undefined) return;
      const weights = x.arms.map((a) => a.weight);
      const total = weights.reduce((a, b) => a + b, 0);
      const ranges = armBuckets(weights);
      const salt = x.salt ?? x.name;
      const required = new Set(arms.flatMap((p) => requiredOf(p)));
      // A request without the unit runs the default arm: the unit is then no required input (the documents say so).
      if (x.default !== undefined) required.delete(unit);
      const props = unionInputs(arms, required);
      const compiledArms = x.arms.map((a, j) => ({ pipeline: a.pipeline, weight: a.weight, share: a.weight / total, buckets: ranges[j]! }));
      const version = createHash('sha256').update(JSON.stringify([x.name, salt, unit, compiledArms.map((a) => [a.pipeline, a.buckets]), x.default ?? null])).digest('hex').slice(0, 12);
      experiments.set(x.name, Object.freeze({
        name: x.name,
        description: x.description,
        file: src.file,
        unit,
        salt,
        arms: compiledArms,
        default: x.default,
        itemType: arms[0]!.plan.itemType,
        inputSchema: { type: 'object', properties: props, required: [...required], additionalProperties: false },
        version,
      }));
    });
  }
  return { experiments, diagnostics };
}

/** What must hold across the arms: the unit (typed, taken by all), the item type, shared inputs alike, no input named `arm`. */
function checkArms(x: ExperimentConfig, unit: string, arms: readonly CompiledPipeline[], say: (code: ErrorCode, at: string, message: string) => void): void {
  const first = arms[0]!;
  arms.forEach((p, j) => {
    const props = propsOf(p);
    const unitSchema = props[unit];
    if (!unitSchema) {
      const has = Object.keys(props);
      say('CONFIG_INVALID', '/unit', `arm '${p.name}' takes no input '${unit}' (its inputs: ${has.length ? has.join(', ') : 'none'}); the unit must be an input every arm uses`);
    } else if (!typesOf(unitSchema).some((t) => t === 'integer' || t === 'number' || t === 'string')) {
      say('CONFIG_INVALID', '/unit', `arm '${p.name}' takes input '${unit}' as ${typesOf(unitSchema).join(' or ') || 'any value'}; a unit is hashed as text, so it must be an integer, number or string input (declare it: inputs: {${unit}: {type: string}})`);
    }
    if (ARM_QUERY in props) say('CONFIG_INVALID', `/arms/${j}/pipeline`, `arm '${p.name}' takes an input named '${ARM_QUERY}', which ?${ARM_QUERY}= reserves on an experiment (it forces an arm); rename the input`);
    if (p.plan.itemType !== first.plan.itemType) say('CONFIG_INVALID', `/arms/${j}/pipeline`, `arm '${p.name}' answers item_type ${p.plan.itemType}, arm '${first.name}' answers ${first.plan.itemType}; the arms of an experiment must answer the same item type`);
  });
  if (x.default !== undefined) {
    const d = arms.find((p) => p.name === x.default);
    if (d && requiredOf(d).includes(unit)) say('CONFIG_INVALID', '/default', `default arm '${d.name}' requires input '${unit}', so a request without it would be refused anyway; give '${unit}' a default in that pipeline (inputs: {${unit}: {default: ...}}) or drop default:`);
  }
  // One set of inputs whichever arm answers: an input two arms take must be declared alike (each may have its own default).
  const seen = new Map<string, { arm: string; text: string; schema: JsonSchema }>();
  for (const p of arms) {
    for (const [k, s] of Object.entries(propsOf(p))) {
      const text = JSON.stringify(typeOnly(s));
      const prev = seen.get(k);
      if (!prev) seen.set(k, { arm: p.name, text, schema: typeOnly(s) });
      else if (prev.text !== text) {
        // In words where the types differ (`a string` / `an integer`); the schemas where only other keywords do.
        const [mine, theirs] = [typeWords(typeOnly(s)), typeWords(prev.schema)];
        const [a, b] = mine !== theirs ? [mine, theirs] : [text, prev.text];
        say('CONFIG_INVALID', '/arms', `input '${k}' is ${a} in arm '${p.name}' but ${b} in arm '${prev.arm}'; a client sends one set of inputs whichever arm it lands in, so declare it alike in both`);
      }
    }
  }
}

/** An input's schema without what each arm may choose for itself (its default, its description). */
function typeOnly(s: JsonSchema): JsonSchema {
  const { default: _default, description: _description, ...rest } = s as Record<string, unknown>;
  return rest;
}

/**
 * The experiment's inputs: every arm's. A default stays only where every arm that takes the input
 * gives the same one and none requires it: otherwise the input is left out when not sent, and each
 * arm fills in its own default (or requires it).
 */
function unionInputs(arms: readonly CompiledPipeline[], required: ReadonlySet<string>): Props {
  const out: Props = {};
  const defaults = new Map<string, Set<string>>();
  for (const p of arms) {
    for (const [k, s] of Object.entries(propsOf(p))) {
      out[k] ??= s;
      const d = defaults.get(k) ?? new Set<string>();
      d.add('default' in s ? JSON.stringify(s['default']) : '');
      defaults.set(k, d);
    }
  }
  for (const [k, d] of defaults) if (required.has(k) || d.size > 1 || d.has('')) out[k] = typeOnly(out[k]!);
  return out;
}
