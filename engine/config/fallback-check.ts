/**
 * `fallback:` of a pipeline: its normal form, and the checks that need the other pipelines of the
 * config set (done once at load, after every pipeline compiled): the target exists, has no fallback
 * of its own (no chains, so no cycles), has the same item type, needs no input this pipeline does
 * not take, and returns every column this one returns. README "Fallback pipelines".
 */
import type { JsonSchema } from '../api.js';
import type { FallbackConfig } from './schema.js';
import { didYouMean } from './validators.js';

export type FallbackCause = 'error' | 'deadline' | 'empty';

export interface FallbackSpec {
  readonly pipeline: string;
  readonly when: readonly FallbackCause[];
  /** `empty`: fewer items than this. */
  readonly minItems: number;
  /** Time of the request's deadline kept back for the fallback. */
  readonly reserveMs: number;
  /** `min_items` was written without `empty` in `when` (reported by fallbackProblems). */
  readonly minItemsUnused?: true;
}

export const DEFAULT_RESERVE_MS = 100;
const ALL_CAUSES: readonly FallbackCause[] = ['error', 'deadline', 'empty'];

export function fallbackSpec(cfg: string | FallbackConfig): FallbackSpec {
  const c = typeof cfg === 'string' ? { pipeline: cfg } : cfg;
  const when = c.when ?? ALL_CAUSES;
  return {
    pipeline: c.pipeline,
    when: [...when],
    minItems: c.min_items ?? 1,
    reserveMs: c.reserve_ms ?? DEFAULT_RESERVE_MS,
    ...(c.min_items !== undefined && !when.includes('empty') ? { minItemsUnused: true as const } : {}),
  };
}

/** What fallbackProblems needs of a compiled pipeline. */
export interface FallbackSide {
  readonly name: string;
  readonly inputSchema: JsonSchema;
  readonly plan: { readonly itemType: string; readonly returns: readonly string[] };
  readonly fallback?: FallbackSpec;
}

export interface FallbackProblem {
  /** Inside the `fallback` key: '' (the key), '/pipeline', '/min_items'. */
  readonly at: string;
  readonly message: string;
}

/**
 * The problems of `p`'s fallback. `lookup` finds a pipeline of the same configs; `defined` says
 * whether a name is defined there at all (it may have failed to compile); `experiment` whether it
 * names an A/B experiment (not a pipeline: a fallback answers as one pipeline).
 */
export function fallbackProblems(p: FallbackSide, lookup: (name: string) => FallbackSide | undefined, names: readonly string[], defined: (name: string) => boolean, experiment: (name: string) => boolean = () => false): FallbackProblem[] {
  const fb = p.fallback;
  if (!fb) return [];
  const out: FallbackProblem[] = [];
  const say = (at: string, m: string): void => { out.push({ at, message: `pipeline '${p.name}': ${m}` }); };
  if (fb.minItemsUnused) say('/min_items', `fallback 'min_items' applies to the 'empty' cause only; add 'empty' to 'when' or remove 'min_items'`);
  const target = fb.pipeline;
  if (target === p.name) {
    say('', `its fallback is itself ('${p.name}' → '${p.name}' is a cycle); name another pipeline`);
    return out;
  }
  const t = lookup(target);
  if (!t) {
    if (defined(target)) say('', `its fallback '${target}' failed to load (see its errors), so '${p.name}' cannot use it`);
    else if (experiment(target)) say('', `its fallback '${target}' is an A/B experiment, not a pipeline: a fallback answers as one pipeline, so name one of its arms`);
    else say('', `its fallback '${target}' is not a pipeline of these configs${didYouMean(target, names.filter((n) => n !== p.name))}; a config that removes or renames it is refused while '${p.name}' names it`);
    return out;
  }
  if (t.fallback) {
    if (t.fallback.pipeline === p.name) say('', `fallback cycle: '${p.name}' → '${target}' → '${p.name}'; a fallback may not have a fallback of its own`);
    else say('', `its fallback '${target}' has a fallback of its own ('${t.fallback.pipeline}'); chains are refused: name '${t.fallback.pipeline}' directly, or remove the fallback of '${target}'`);
  }
  if (t.plan.itemType !== p.plan.itemType) {
    say('', `its fallback '${target}' has item_type '${t.plan.itemType}', not '${p.plan.itemType}': a fallback must answer the same items`);
    return out;
  }
  const mine = (p.inputSchema['properties'] ?? {}) as Record<string, JsonSchema>;
  const theirs = (t.inputSchema['properties'] ?? {}) as Record<string, JsonSchema>;
  const required = (t.inputSchema['required'] ?? []) as string[];
  for (const name of required) {
    if (!(name in mine)) say('', `its fallback '${target}' requires input '${name}', which '${p.name}' does not take; give it a default in '${target}' (inputs: {${name}: {default: ...}})`);
  }
  for (const [name, s] of Object.entries(theirs)) {
    const m = mine[name];
    // Where both state a type: every value this pipeline takes must be one the fallback takes (an
    // integer client_id here and `integer or list of integers` there is fine; a text one is not).
    if (m === undefined || m['type'] === undefined || s['type'] === undefined || takesAll(s, m)) continue;
    say('', `input '${name}' is ${typeWords(m)} in '${p.name}' but ${typeWords(s)} in its fallback '${target}': the same value is sent to both, so a value '${p.name}' takes must be one '${target}' takes; declare it in '${p.name}' (inputs: {${name}: {type: ...}}) or in '${target}'`);
  }
  const missing = p.plan.returns.filter((c) => !t.plan.returns.includes(c));
  if (missing.length > 0) say('', `its fallback '${target}' does not return ${missing.map((c) => `'${c}'`).join(', ')} (it returns ${t.plan.returns.join(', ')}); a fallback must return every column '${p.name}' returns`);
  return out;
}

const typesOf = (s: JsonSchema): readonly string[] => {
  const t = s['type'];
  return typeof t === 'string' ? [t] : Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
};

/** Whether every value of schema `mine`'s type(s) is of one of `theirs`' (an integer is a number; a list's elements alike). */
function takesAll(theirs: JsonSchema, mine: JsonSchema): boolean {
  const t = typesOf(theirs);
  if (theirs['type'] === undefined) return true;
  if (mine['type'] === undefined) return false;
  return typesOf(mine).every((m) => {
    if (m === 'integer') return t.includes('integer') || t.includes('number');
    if (m !== 'array') return t.includes(m);
    if (!t.includes('array')) return false;
    const ti = theirs['items'];
    const mi = mine['items'];
    if (ti === undefined || typeof ti !== 'object' || Array.isArray(ti)) return true;
    return mi !== undefined && typeof mi === 'object' && !Array.isArray(mi) && takesAll(ti as JsonSchema, mi as JsonSchema);
  });
}

/** A schema's type in words: `an integer`, `an integer or a list of integers`, `a string, a number or a boolean`. */
export function typeWords(s: JsonSchema): string {
  const word = (t: string, items: unknown, plural: boolean): string => {
    if (t === 'array') {
      const it = items !== undefined && typeof items === 'object' && !Array.isArray(items) ? typesOf(items as JsonSchema) : [];
      return `${plural ? 'lists' : 'a list'}${it.length > 0 ? ` of ${it.map((x) => word(x, undefined, true)).join(' or ')}` : ''}`;
    }
    if (plural) return t === 'boolean' ? 'booleans' : `${t}s`;
    return `${t === 'integer' ? 'an' : 'a'} ${t}`;
  };
  const ws = typesOf(s).map((t) => word(t, s['items'], false));
  return ws.length <= 1 ? (ws[0] ?? 'anything') : `${ws.slice(0, -1).join(', ')} or ${ws[ws.length - 1]}`;
}
