/**
 * Caches never change answers: seeded requests built to collide in cache keys (1 vs "1" vs 1.0 vs
 * true, [1,2] vs [2,1] vs [1,1,2], é as one code point vs e + combining accent, long strings, text
 * holding ':', '|', ',', '=', NUL, absent context rows, two pipelines with the same steps) are sent
 * to a warm server twice over, plain (through the candidate and result memos) and with `?debug`
 * (the literal plan, no memo: README "Debug"), inline and on the worker pool. Status, code, items
 * and reason must agree. CACHE_SEED and CACHE_REQUESTS change the run; a failure prints the request.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import { createApp } from '../engine/http/app.js';
import { threadMemo } from '../engine/memo.js';
import { builtinOperators } from '../operators/index.js';
import { OPERATORS_URL, tempDir } from './helpers.js';
import { prng } from './semantics-reference.js';

const SEED = Number(process.env['CACHE_SEED'] ?? 11);
const REQUESTS = Number(process.env['CACHE_REQUESTS'] ?? 600);

const TAGS = ['a', 'b', 'A', '1', 'true', '\u00e9', 'e\u0301', ':', 'a:b', 'a|b', 'a,b', 'a\u0000b', 'a=b', '["a"]', 'x'.repeat(300), 'x'.repeat(299), ''];

const CONFIG = `
datasets:
  items: {path: data/items.json, key: id}
  ctx: {path: data/ctx.json, key: cid}
pipelines:
- name: where_t
  item_type: id
  items: items
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {tag: $t}}}]
    scorer: [{name: Column, parameters: {column: w}}]
  operations: [{name: Sort, parameters: {by: score, desc: true}}, {name: Limit, parameters: {n: $n}}]
  return: [id, score, tag]
- name: where_t_twin
  item_type: id
  items: items
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {tag: $t}}}]
    scorer: [{name: Column, parameters: {column: w}}]
  operations: [{name: Sort, parameters: {by: score, desc: true}}, {name: Limit, parameters: {n: $n}}]
  return: [id, score, tag]
- name: ctx_ex
  item_type: id
  items: items
  context: {c: {dataset: ctx, key: $cid}}
  initialization:
    includes:
    - {name: Lookup, parameters: {dataset: items, where: {g: $g}}}
    - {name: Lookup, parameters: {dataset: items, where: {tag: $c.tag}}}
    excludes: [{name: Static, parameters: {items: $ex}}]
    scorer: [{name: Column, parameters: {column: w}}]
  operations:
  - {name: Range, parameters: {column: w, min: $lo}}
  - {name: Match, parameters: {column: flag, value: $f}}
  - {name: Sort, parameters: {by: score}}
  return: [id, score]
- name: match_in
  item_type: id
  items: items
  initialization:
    includes: [{name: Static, parameters: {items: $ids}}]
  operations:
  - {name: Match, parameters: {column: tag, op: in, value: $m}}
  - {name: Dedupe, parameters: {by: g}}
  - {name: Sort, parameters: {by: w, desc: true}}
  return: [id, tag, w]
`;

type Req = { pipeline: string; inputs: Record<string, unknown> };

function requests(seed: number, n: number): Req[] {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const list = <T>(xs: readonly T[], max: number): T[] => Array.from({ length: Math.floor(r() * (max + 1)) }, () => pick(xs));
  const scalar = (): unknown => pick<unknown>([1, '1', 1.0, true, 'true', 0, -0, '0', false, ...TAGS]);
  const t = (): unknown => (r() < 0.7 ? scalar() : pick([['a', 'b'], ['b', 'a'], ['a', 'a', 'b'], ['1', 1], [true], list(TAGS, 3)]));
  const ids = (): unknown[] => list<unknown>(r() < 0.8 ? [1, 2, 3, 2, 2.0, 41, 7, 8] : [1, 2, '2', 'x', true], 5);
  // Mostly values the input schema accepts; a few it refuses (the refusal must not be cached either).
  const or = <T>(good: readonly T[], bad: readonly T[]): T => (r() < 0.9 ? pick(good) : pick(bad));
  // A small pool of distinct requests, drawn with repeats: the memos must both fill and answer.
  const pool: Req[] = [];
  for (let i = 0; i < Math.max(8, n / 4); i++) {
    switch (i % 4) {
      case 0: pool.push({ pipeline: pick(['where_t', 'where_t_twin']), inputs: { t: t(), n: or<unknown>([0, 1, 3, 100], ['3', 1.5]) } }); break;
      case 1: pool.push({ pipeline: 'ctx_ex', inputs: { cid: or<unknown>([1, 2, 3, 4, 5, 9, 1.0], ['1']), g: or<unknown>([0, 1, 2, 3], ['1', true]), ex: ids(), lo: or<unknown>([0, -0, 0.5, 3], ['3']), f: or<unknown>([true, false], ['true', 1]) } }); break;
      case 2: pool.push({ pipeline: 'match_in', inputs: { ids: ids(), m: list(TAGS, 4) } }); break;
      default: pool.push({ pipeline: pick(['where_t', 'match_in']), inputs: pick<Record<string, unknown>>([{ t: '\u00e9', n: 5 }, { t: 'e\u0301', n: 5 }, { ids: [1, 2, 3, 4, 5, 6, 7], m: ['\u00e9'] }, { ids: [1, 2, 3, 4, 5, 6, 7], m: ['e\u0301'] }]) });
    }
  }
  return Array.from({ length: n }, () => pick(pool));
}

const engines: Engine[] = [];
const apps: Record<string, ReturnType<typeof createApp>> = {};

beforeAll(async () => {
  const dir = await tempDir('airmail-cache-diff-');
  await mkdir(join(dir, 'data'));
  const rows = Array.from({ length: 40 }, (_, k) => ({ id: k + 1, tag: TAGS[(k + 1) % TAGS.length], w: ((k + 1) * 7) % 11 + ((k + 1) % 3 ? 0.5 : 0), g: (k + 1) % 4, flag: (k + 1) % 2 === 0 }));
  await writeFile(join(dir, 'data/items.json'), JSON.stringify(rows));
  await writeFile(join(dir, 'data/ctx.json'), JSON.stringify([
    { cid: 1, tag: 'a' }, { cid: 2, tag: '\u00e9' }, { cid: 3, tag: 'e\u0301' }, { cid: 4, tag: 'a:b' }, { cid: 5, tag: null },
  ]));
  await writeFile(join(dir, 'p.yaml'), CONFIG);
  for (const threads of [0, 1]) {
    const engine = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads, inlineUnderMs: 0, watch: false, remote: {} });
    engines.push(engine);
    expect(await engine.start()).toEqual([]);
    apps[threads === 0 ? 'inline' : 'pooled'] = createApp(engine);
  }
});
afterAll(() => Promise.all(engines.map((e) => e.close())));

async function ask(app: ReturnType<typeof createApp>, q: Req, debug: boolean): Promise<string> {
  const res = await app.request(`/pipelines/${q.pipeline}${debug ? '?debug=true' : ''}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(q.inputs) });
  const b = (await res.json()) as { items?: unknown; error?: boolean; code?: string; reason?: string | null };
  return JSON.stringify({ status: res.status, code: b.code ?? null, error: b.error ?? null, items: b.items ?? null, reason: b.reason ?? null });
}

describe('caches never change answers', () => {
  for (const where of ['inline', 'pooled'] as const) {
    const n = where === 'pooled' ? Math.ceil(REQUESTS / 3) : REQUESTS;
    it(`${where}: ${n} colliding requests, memoised answers equal the literal plan's (seed ${SEED})`, async () => {
      const app = apps[where]!;
      const list = requests(SEED + (where === 'pooled' ? 1 : 0), n);
      const bad: string[] = [];
      let ok = 0;
      const hits0 = threadMemo()?.hits ?? 0;
      const seen: string[] = [];
      for (const q of list) {
        const memo = await ask(app, q, false);
        const literal = await ask(app, q, true);
        seen.push(memo.slice(0, 40));
        if (memo !== literal) bad.push(`${q.pipeline} ${JSON.stringify(q.inputs)}\n  memo    ${memo}\n  literal ${literal}`);
        else if (memo.startsWith('{"status":200')) ok++;
        if (bad.length >= 3) break;
      }
      if (process.env['CACHE_VERBOSE']) console.log(where, { requests: list.length, answered: ok, statuses: [...new Set(seen)] });
      expect(bad.join('\n')).toBe('');
      // Not degenerate: most requests are answered (not refused as invalid).
      expect(ok).toBeGreaterThan(list.length / 3);
      // Inline runs share this thread's memo: it answered many of them (the comparison is not vacuous).
      if (where === 'inline') expect((threadMemo()?.hits ?? 0) - hits0).toBeGreaterThan(list.length / 4);
    }, 120_000);
  }
});
