/**
 * An independent reference of what a registry tag query selects, written from the README's words
 * ("Tag queries" under "Models from the registry"), not from engine/registry/query.ts:
 *
 *   clauses joined by ',' all hold:  k=v   k!=v   k in (a|b)   k notin (a|b)   k (present)   !k (absent)
 *   `!=` and `notin` also hold for an envelope without the tag; `in` and `=` need it.
 *   a value is bare (no , | ( ) " = !, surrounding spaces dropped) or "double quoted" (\" and \\).
 *   newest publish first: the latest publishedAt first; envelopes published in the same instant
 *   come the way the registry orders them then: by name, then version, the greater first.
 *   GET /envelopes answers at most `limit` (default 100) after `offset` (default 0).
 *   resolve: the first of the answer; with a version, that version if it matches; an alias, the
 *   version the alias points at; nothing → 404 ENVELOPE_NOT_FOUND; a bad query → 400 QUERY_INVALID.
 */

export type RefOp = 'eq' | 'ne' | 'in' | 'nin' | 'has' | 'not';
export interface RefClause { key: string; op: RefOp; values: string[] }
export interface RefEnvelope { name: string; version: number; publishedAt: string; index: Record<string, string> }

const KEY = /[A-Za-z0-9._-]/;
const SPECIAL = ',|()"=!';

/** Parses the string form, or returns the string 'invalid'. Written as a tokenizer, unlike the engine's. */
export function refParse(text: string): RefClause[] | 'invalid' {
  const out: RefClause[] = [];
  let i = 0;
  const spaces = (): void => { while (text[i] === ' ') i++; };
  const key = (): string | undefined => {
    spaces();
    let k = '';
    while (i < text.length && KEY.test(text[i]!)) k += text[i++];
    return k || undefined;
  };
  const val = (): string | undefined => {
    spaces();
    if (text[i] === '"') {
      i++;
      let v = '';
      for (;;) {
        if (i >= text.length) return undefined;
        const ch = text[i]!;
        if (ch === '"') { i++; return v; }
        if (ch === '\\' && i + 1 < text.length) { v += text[i + 1]; i += 2; continue; }
        v += ch;
        i++;
      }
    }
    let v = '';
    while (i < text.length && !SPECIAL.includes(text[i]!)) v += text[i++];
    return v.trim();
  };
  spaces();
  if (i === text.length) return out;
  for (;;) {
    spaces();
    if (text[i] === '!') {
      i++;
      const k = key();
      if (!k) return 'invalid';
      out.push({ key: k, op: 'not', values: [] });
    } else {
      const k = key();
      if (!k) return 'invalid';
      spaces();
      const rest = text.slice(i);
      if (rest.startsWith('!=')) {
        i += 2;
        const v = val(); if (v === undefined) return 'invalid';
        out.push({ key: k, op: 'ne', values: [v] });
      } else if (rest.startsWith('=')) {
        i += rest.startsWith('==') ? 2 : 1;
        const v = val(); if (v === undefined) return 'invalid';
        out.push({ key: k, op: 'eq', values: [v] });
      } else {
        const m = /^(notin|in) *\(/.exec(rest);
        if (m) {
          i += m[0].length;
          const values: string[] = [];
          for (;;) {
            const v = val(); if (v === undefined) return 'invalid';
            values.push(v);
            spaces();
            if (text[i] === '|') { i++; continue; }
            if (text[i] === ')') { i++; break; }
            return 'invalid';
          }
          out.push({ key: k, op: m[1] === 'in' ? 'in' : 'nin', values });
        } else {
          out.push({ key: k, op: 'has', values: [] });
        }
      }
    }
    spaces();
    if (i === text.length) return out;
    if (text[i] !== ',') return 'invalid';
    i++;
  }
}

export function refMatches(clauses: readonly RefClause[], tags: Readonly<Record<string, string>>): boolean {
  return clauses.every((c) => {
    const present = Object.prototype.hasOwnProperty.call(tags, c.key);
    const v = present ? tags[c.key] : undefined;
    switch (c.op) {
      case 'eq': return present && v === c.values[0];
      case 'ne': return !present || v !== c.values[0];
      case 'in': return present && c.values.includes(v!);
      case 'nin': return !present || !c.values.includes(v!);
      case 'has': return present;
      case 'not': return !present;
    }
  });
}

/** Newest publish first. */
export function refNewestFirst<T extends RefEnvelope>(all: readonly T[]): T[] {
  return [...all].sort((a, b) =>
    a.publishedAt !== b.publishedAt ? (a.publishedAt < b.publishedAt ? 1 : -1)
      : a.name !== b.name ? (a.name < b.name ? 1 : -1)
        : b.version - a.version);
}

export function refQuery<T extends RefEnvelope>(all: readonly T[], clauses: readonly RefClause[], limit = 100, offset = 0): T[] {
  return refNewestFirst(all.filter((e) => refMatches(clauses, e.index))).slice(offset, offset + limit);
}

/** The string form of one clause, quoting a value the bare form cannot carry. */
export function refFormat(c: RefClause): string {
  const q = (v: string): string => (v !== '' && v.trim() === v && ![...SPECIAL].some((s) => v.includes(s)) ? v : `"${v.replace(/[\\"]/g, (x) => `\\${x}`)}"`);
  switch (c.op) {
    case 'eq': return `${c.key}=${q(c.values[0]!)}`;
    case 'ne': return `${c.key}!=${q(c.values[0]!)}`;
    case 'in': return `${c.key} in (${c.values.map(q).join('|')})`;
    case 'nin': return `${c.key} notin (${c.values.map(q).join('|')})`;
    case 'has': return c.key;
    case 'not': return `!${c.key}`;
  }
}
