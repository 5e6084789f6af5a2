/**
 * `$name` (a request input) and `$context.column` (a column of a context row)
 * references inside operator parameters. Sites are found once at compile time;
 * per request only those paths are rebuilt with values.
 */
import type { JsonSchema } from '../api.js';
import type { TimeBound } from '../time.js';

/** `time`: a time bound (`now-30d`, `2024-10-01`) where a timestamp column is compared; epoch ms per request. */
export type Ref = { kind: 'input'; name: string } | { kind: 'context'; context: string; column: string } | { kind: 'time'; bound: TimeBound };

export interface RefSite {
  /** Path inside the parameters object. */
  readonly path: readonly (string | number)[];
  readonly ref: Ref;
  /** The raw text, e.g. `$client.size`. */
  readonly text: string;
  /** An input or context value that bounds a timestamp column: shown as ISO text (set at load by typing.ts). */
  readonly instant?: true;
}

const REF = /^\$([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_.-]*))?$/;

/** Parses `$x` / `$ctx.col`; `$$...` escapes a literal dollar string. */
export function parseRef(value: unknown): Ref | undefined {
  if (typeof value !== 'string' || !value.startsWith('$') || value.startsWith('$$')) return undefined;
  const m = REF.exec(value);
  if (!m) return undefined;
  return m[2] === undefined ? { kind: 'input', name: m[1]! } : { kind: 'context', context: m[1]!, column: m[2] };
}

export function looksLikeRef(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('$') && !value.startsWith('$$');
}

export function findRefSites(params: unknown): { sites: RefSite[]; malformed: { path: (string | number)[]; text: string }[] } {
  const sites: RefSite[] = [];
  const malformed: { path: (string | number)[]; text: string }[] = [];
  const walk = (v: unknown, path: (string | number)[]): void => {
    if (looksLikeRef(v)) {
      const ref = parseRef(v);
      if (ref) sites.push({ path, ref, text: v });
      else malformed.push({ path, text: v });
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
  };
  walk(params, []);
  return { sites, malformed };
}

/**
 * Unescape `$$x` → `$x` in literal strings (plain objects and arrays are walked; anything else,
 * such as a typed array a normalize step produced, is kept as it is). Unchanged parts stay the same objects.
 */
export function unescapeLiterals<T>(v: T): T {
  if (typeof v === 'string') return (v.startsWith('$$') ? v.slice(1) : v) as T;
  if (Array.isArray(v)) {
    const out = v.map(unescapeLiterals);
    return (out.some((x, i) => x !== v[i]) ? out : v) as T;
  }
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const entries = Object.entries(v);
    const out = entries.map(([k, x]) => [k, unescapeLiterals(x)] as const);
    return (out.some(([, x], i) => x !== entries[i]![1]) ? Object.fromEntries(out) : v) as T;
  }
  return v;
}

/** The sub-schema that governs the value at `path` (best effort over properties / items / additionalProperties / oneOf). */
export function subSchema(schema: JsonSchema | undefined, path: readonly (string | number)[]): JsonSchema | undefined {
  let s: JsonSchema | undefined = schema;
  for (const seg of path) {
    if (!s) return undefined;
    const props = s['properties'] as Record<string, JsonSchema> | undefined;
    if (typeof seg === 'string' && props && Object.hasOwn(props, seg)) {
      s = props[seg];
      continue;
    }
    if (typeof seg === 'number' && s['items'] && typeof s['items'] === 'object') {
      s = s['items'] as JsonSchema;
      continue;
    }
    if (typeof seg === 'string' && s['additionalProperties'] && typeof s['additionalProperties'] === 'object') {
      s = s['additionalProperties'] as JsonSchema;
      continue;
    }
    const alts = (s['oneOf'] ?? s['anyOf']) as JsonSchema[] | undefined;
    if (alts) {
      const found = alts.map((a) => subSchema(a, [seg])).find((x) => x !== undefined);
      s = found;
      continue;
    }
    return undefined;
  }
  return s;
}

/** A value that satisfies the type of `schema`, used to stand in for a reference while checking literal parameters. */
export function placeholderFor(schema: JsonSchema | undefined): unknown {
  const t = schema?.['type'];
  const type = Array.isArray(t) ? t[0] : t;
  const en = schema?.['enum'] as unknown[] | undefined;
  if (en && en.length > 0) return en[0];
  switch (type) {
    case 'integer':
    case 'number':
      return typeof schema?.['minimum'] === 'number' ? schema['minimum'] : 1;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object':
      return {};
    case 'string':
      return 'x';
    default:
      return 'x';
  }
}

export function setAt(root: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (Array.isArray(root)) {
    const copy = root.slice();
    copy[head as number] = setAt(copy[head as number], rest, value);
    return copy;
  }
  const obj = (root && typeof root === 'object' ? root : {}) as Record<string, unknown>;
  return { ...obj, [head as string]: setAt(obj[head as string], rest, value) };
}

export function pointerToPath(pointer: string): string[] {
  return pointer.split('/').slice(1).map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function pathToPointer(path: readonly (string | number)[]): string {
  return path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}
