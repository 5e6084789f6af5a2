/**
 * Tag queries over envelope index tags.
 *
 * Object form (TS API, JSON bodies):
 *   { name: 'psale', stage: { ne: 'dev' }, team: { in: ['a', 'b'] }, owner: { exists: true } }
 * A bare string is equality; an object may combine eq / ne / in / nin / exists (all must hold).
 *
 * String form (URLs `?q=`, CLI), clauses joined by ',' (all must hold):
 *   name=psale          equality                 stage!=dev      absent or different
 *   team in (a|b)       set membership           team notin (a|b)
 *   owner               key present              !owner          key absent
 * Values are bare (no , | ( ) " = !, surrounding spaces trimmed) or "double quoted" with \" and \\.
 * `ne` / `notin` / `!key` also match envelopes that lack the tag (Kubernetes selector semantics).
 */
import { RegistryError } from './errors.js';

export type ClauseObject = {
  readonly eq?: string;
  readonly ne?: string;
  readonly in?: readonly string[];
  readonly nin?: readonly string[];
  readonly exists?: boolean;
};
export type Clause = string | ClauseObject;
export type TagQuery = Readonly<Record<string, Clause>>;

export type Op = 'eq' | 'ne' | 'in' | 'nin' | 'exists' | 'absent';
export interface Condition {
  readonly key: string;
  readonly op: Op;
  readonly values: readonly string[];
}

export interface CompiledQuery {
  readonly conditions: readonly Condition[];
  /** Canonical string form (stable: conditions sorted). */
  readonly text: string;
  test(index: Readonly<Record<string, string>>): boolean;
}

const KEY_RE = /^[A-Za-z0-9._-]{1,128}$/;

function bad(message: string): never {
  throw new RegistryError('QUERY_INVALID', message);
}

function checkKey(key: string): string {
  if (!KEY_RE.test(key)) bad(`tag key ${JSON.stringify(key)} is not [A-Za-z0-9._-]`);
  return key;
}

function conditionsOfObject(q: TagQuery): Condition[] {
  if (!q || typeof q !== 'object' || Array.isArray(q)) bad('a tag query must be an object or a string');
  const out: Condition[] = [];
  for (const [key, c] of Object.entries(q)) {
    checkKey(key);
    if (typeof c === 'string') { out.push({ key, op: 'eq', values: [c] }); continue; }
    if (!c || typeof c !== 'object') bad(`clause for '${key}' must be a string or {eq, ne, in, nin, exists}`);
    const known = new Set(['eq', 'ne', 'in', 'nin', 'exists']);
    const unknown = Object.keys(c).filter((k) => !known.has(k));
    if (unknown.length || Object.keys(c).length === 0) bad(`clause for '${key}' has unknown or no operators: ${unknown.join(', ') || '(none)'}; use eq, ne, in, nin, exists`);
    const str = (v: unknown, what: string): string => (typeof v === 'string' ? v : bad(`'${key}': ${what} must be a string`));
    const list = (v: unknown, what: string): string[] =>
      Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : bad(`'${key}': ${what} must be an array of strings`);
    if (c.eq !== undefined) out.push({ key, op: 'eq', values: [str(c.eq, 'eq')] });
    if (c.ne !== undefined) out.push({ key, op: 'ne', values: [str(c.ne, 'ne')] });
    if (c.in !== undefined) out.push({ key, op: 'in', values: list(c.in, 'in') });
    if (c.nin !== undefined) out.push({ key, op: 'nin', values: list(c.nin, 'nin') });
    if (c.exists !== undefined) {
      if (typeof c.exists !== 'boolean') bad(`'${key}': exists must be true or false`);
      out.push({ key, op: c.exists ? 'exists' : 'absent', values: [] });
    }
  }
  return out;
}

/** Parses the string form into conditions. */
export function parseQuery(text: string): Condition[] {
  const s = text;
  let i = 0;
  const out: Condition[] = [];
  const ws = (): void => { while (i < s.length && s[i] === ' ') i++; };
  const word = (): string => {
    ws();
    const m = /^[A-Za-z0-9._-]+/.exec(s.slice(i));
    if (!m) bad(`expected a tag key at position ${i} of ${JSON.stringify(s)}`);
    i += m[0].length;
    return m[0];
  };
  const value = (): string => {
    ws();
    if (s[i] === '"') {
      let v = '';
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        v += s[i++];
      }
      if (s[i] !== '"') bad(`unterminated quoted value in ${JSON.stringify(s)}`);
      i++;
      return v;
    }
    const start = i;
    while (i < s.length && !',|()"=!'.includes(s[i]!)) i++;
    return s.slice(start, i).trim();
  };
  ws();
  if (i >= s.length) return out;
  for (;;) {
    ws();
    let negate = false;
    if (s[i] === '!') { negate = true; i++; }
    const key = word();
    ws();
    if (negate) {
      out.push({ key, op: 'absent', values: [] });
    } else if (s.startsWith('!=', i)) {
      i += 2; out.push({ key, op: 'ne', values: [value()] });
    } else if (s.startsWith('==', i) || s[i] === '=') {
      i += s.startsWith('==', i) ? 2 : 1; out.push({ key, op: 'eq', values: [value()] });
    } else if (/^(in|notin)\s*\(/.test(s.slice(i))) {
      const op: Op = s.startsWith('notin', i) ? 'nin' : 'in';
      i = s.indexOf('(', i) + 1;
      const values: string[] = [value()];
      ws();
      while (s[i] === '|') { i++; values.push(value()); ws(); }
      if (s[i] !== ')') bad(`expected ')' at position ${i} of ${JSON.stringify(s)}`);
      i++;
      out.push({ key, op, values });
    } else {
      out.push({ key, op: 'exists', values: [] });
    }
    ws();
    if (i >= s.length) break;
    if (s[i] !== ',') bad(`expected ',' at position ${i} of ${JSON.stringify(s)}`);
    i++;
  }
  return out;
}

function quote(v: string): string {
  return /^[^,|()"=!]*$/.test(v) && v.trim() === v && v !== '' ? v : `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function formatConditions(conds: readonly Condition[]): string {
  return conds
    .map((c) => {
      switch (c.op) {
        case 'eq': return `${c.key}=${quote(c.values[0]!)}`;
        case 'ne': return `${c.key}!=${quote(c.values[0]!)}`;
        case 'in': return `${c.key} in (${c.values.map(quote).join('|')})`;
        case 'nin': return `${c.key} notin (${c.values.map(quote).join('|')})`;
        case 'exists': return c.key;
        case 'absent': return `!${c.key}`;
      }
    })
    .sort()
    .join(',');
}

/** The string form of any query (for URLs). */
export function formatQuery(q: TagQuery | string): string {
  return formatConditions(typeof q === 'string' ? parseQuery(q) : conditionsOfObject(q));
}

function testOne(c: Condition, index: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(index, c.key);
  const v = has ? index[c.key] : undefined;
  switch (c.op) {
    case 'eq': return v === c.values[0];
    case 'ne': return v !== c.values[0];
    case 'in': return v !== undefined && c.values.includes(v);
    case 'nin': return v === undefined || !c.values.includes(v);
    case 'exists': return has;
    case 'absent': return !has;
  }
}

export function compileQuery(q: TagQuery | string): CompiledQuery {
  const conditions = typeof q === 'string' ? parseQuery(q) : conditionsOfObject(q);
  return {
    conditions,
    text: formatConditions(conditions),
    test(index) {
      for (const c of conditions) if (!testOne(c, index)) return false;
      return true;
    },
  };
}
