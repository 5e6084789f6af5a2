/**
 * The structural (JSON Schema) check of one pipeline, done by the compiler
 * rather than the file check so that a structural error hides nothing: the
 * parts of the pipeline that are sound still get their semantic checks, and
 * every problem is reported together.
 */
import type { PipelineConfig } from './schema.js';
import { MAX_STEPS, PIPELINE_SCHEMA } from './schema.js';
import { describeErrors, newAjv, type Problem } from './validators.js';

const validatePipeline = newAjv({ useDefaults: false }).compile(PIPELINE_SCHEMA as object);

export interface Structure {
  /** Problems, with pointers from the document root. */
  readonly problems: readonly Problem[];
  /** Nothing can be checked further (the pipeline is not an object, or its item type is broken). */
  readonly fatal: boolean;
  /** A problem at `pointer` or inside it. */
  bad(pointer: string): boolean;
}

export function checkStructure(cfg: unknown, base: string): Structure {
  const problems = validatePipeline(cfg) ? [] : describeErrors(validatePipeline.errors).map((p) => ({ path: `${base}${p.path}`, message: p.message }));
  const bad = (pointer: string): boolean => problems.some((p) => p.path === pointer || p.path.startsWith(`${pointer}/`));
  const fatal = !cfg || typeof cfg !== 'object' || Array.isArray(cfg) || problems.some((p) => p.path === base) || bad(`${base}/item_type`) || bad(`${base}/name`) || tooManySteps(cfg);
  return { problems, fatal, bad };
}

/**
 * A list of steps over MAX_STEPS (reported by the schema) stops the check there: compiling its
 * steps for their own problems is the cost the limit exists to refuse.
 */
function tooManySteps(cfg: object): boolean {
  const c = cfg as { initialization?: unknown; operations?: unknown };
  const init = c.initialization && typeof c.initialization === 'object' ? (c.initialization as Record<string, unknown>) : {};
  return [c.operations, init['includes'], init['excludes'], init['scorer'], init['scores']].some((v) => Array.isArray(v) && v.length > MAX_STEPS);
}

/** The pipeline with its broken parts left out (steps are skipped one by one by the compiler, by `bad`). */
export function soundParts(cfg: PipelineConfig, base: string, s: Structure): PipelineConfig {
  const entries = <T>(key: 'context' | 'inputs', v: Record<string, T> | undefined): Record<string, T> | undefined =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).filter(([k]) => !s.bad(`${base}/${key}/${k}`))) : undefined;
  const list = <T>(v: T[] | undefined): T[] | undefined => (Array.isArray(v) ? v : undefined);
  const init = cfg.initialization && typeof cfg.initialization === 'object' && !Array.isArray(cfg.initialization) ? cfg.initialization : {};
  const out: PipelineConfig = {
    name: cfg.name,
    item_type: cfg.item_type,
    ...(cfg.items !== undefined && !s.bad(`${base}/items`) ? { items: cfg.items } : {}),
    context: entries('context', cfg.context) ?? {},
    inputs: entries('inputs', cfg.inputs) ?? {},
    initialization: {
      ...(list(init.includes) ? { includes: init.includes } : {}),
      ...(list(init.excludes) ? { excludes: init.excludes } : {}),
      ...(list(init.scorer) ? { scorer: init.scorer } : {}),
      ...(list(init.scores) ? { scores: init.scores } : {}),
    },
    ...(list(cfg.operations) ? { operations: cfg.operations } : {}),
    ...(cfg.return !== undefined && !s.bad(`${base}/return`) ? { return: cfg.return } : {}),
    ...(typeof cfg.deadline_ms === 'number' ? { deadline_ms: cfg.deadline_ms } : {}),
    ...(typeof cfg.max_workers === 'number' ? { max_workers: cfg.max_workers } : {}),
    ...(cfg.fallback !== undefined && !s.bad(`${base}/fallback`) ? { fallback: cfg.fallback } : {}),
    ...(typeof cfg.description === 'string' ? { description: cfg.description } : {}),
  };
  return out;
}
