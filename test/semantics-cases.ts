/**
 * The seeded generator of the semantics tests: worlds (an items dataset keyed by `id`, integer or
 * text ids, repeated keys, nulls, empty tables; a links table with repeated ids), pipelines over the
 * README's operators, and request inputs (some of which must be refused). Used by
 * semantics-differential.test.ts (POST /execute) and why-differential.test.ts (named pipelines,
 * /why and the debug trace), both against the reference in semantics-reference.ts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { prng, SEM_NOW, timeBound, type Case, type Id, type Pipeline, type Row, type Step, type World } from './semantics-reference.js';

const WORLDS = 10;

export function gen(seed: number, count: number): { worlds: World[]; cases: Case[] } {
  const r = prng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  const some = <T>(xs: readonly T[], max: number, min = 0): T[] => Array.from({ length: int(min, max) }, () => pick(xs));
  // Dates draw from their own stream, so the cases drawn before they were added stay as they were.
  const t = prng(seed + 1000);
  const tpick = <T>(xs: readonly T[]): T => xs[Math.floor(t() * xs.length)]!;
  const HOUR = 3_600_000;
  const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
  const worlds: World[] = [];
  for (let k = 0; k < WORLDS; k++) {
    const ids = k % 2 === 0 ? 'int' : 'str';
    const idOf = (i: number): Id => (ids === 'int' ? i : `k${i}`);
    const n = k === 0 ? 0 : int(3, 14);
    const items: Row[] = [];
    for (let i = 0; i < n; i++) {
      const id = items.length > 0 && r() < 0.15 ? items[int(0, items.length - 1)]!['id'] as Id : idOf(int(1, 14));
      const row: Row = { id, w: r() < 0.2 ? null : int(0, 3), price: r() < 0.2 ? null : int(0, 8) + 0.5 };
      const cat = pick(['a', 'b', 'c', null, undefined]);
      if (cat !== undefined) row['cat'] = cat;
      // A timestamp column: whole days back from now, many on a bound's edge or an hour either side of it, or null.
      row['at'] = t() < 0.2 ? null : iso(SEM_NOW - tpick([0, 1, 2, 7, 14, 30, 36 / 24, 10, 20]) * 24 * HOUR + tpick([0, 0, -HOUR, HOUR, -12 * HOUR, -13 * HOUR]));
      items.push(row);
    }
    const links = Array.from({ length: k === 1 ? 0 : int(0, 12) }, () => ({ id: idOf(int(1, 14)), tag: pick(['x', 'y', 'z']) }));
    worlds.push({ name: String(k), ids, items, links });
  }
  const cases: Case[] = [];
  for (let c = 0; c < count; c++) {
    const world = worlds[c % WORLDS]!;
    const idOf = (i: number): Id => (world.ids === 'int' ? i : `k${i}`);
    const inputs: Record<string, unknown> = {};
    const lookup = (exclude = false): Step => {
      const d = r() < 0.5 ? `items${world.name}` : `links${world.name}`;
      if (d.startsWith('links')) return { name: 'Lookup', parameters: { dataset: d, where: { tag: r() < 0.5 ? pick(['x', 'y', 'z']) : some(['x', 'y', 'z'], 2) }, ...(!exclude && r() < 0.4 ? { columns: ['tag'] } : {}) } };
      if (r() < 0.4 && !exclude) return { name: 'Lookup', parameters: { dataset: d } };
      if (r() < 0.3 && !('c' in inputs)) { inputs['c'] = r() < 0.3 ? some(['a', 'b', 'c'], 2) : pick(['a', 'b', 'c']); return { name: 'Lookup', parameters: { dataset: d, where: { cat: '$c' } } }; }
      return { name: 'Lookup', parameters: { dataset: d, where: { cat: pick(['a', 'b', 'c']) }, ...(r() < 0.2 ? { column: 'id' } : {}) } };
    };
    const srcStep = (): Step => (r() < 0.4 ? { name: 'Static', parameters: { items: some([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map(idOf), 9, 2) } } : lookup());
    const includes = Array.from({ length: int(1, 3) }, srcStep);
    if (r() < 0.5) includes.push({ name: 'Lookup', parameters: { dataset: `items${world.name}` } });
    const excludes = Array.from({ length: int(0, 2) }, () => (r() < 0.5 ? { name: 'Static', parameters: { items: some([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map(idOf), 3) } } : lookup(true)));
    const scores: Step[] = Array.from({ length: int(0, 2) }, (_, i) => ({ name: 'Column', as: `s${i}`, parameters: { column: pick(['w', 'price']) }, ...(r() < 0.6 ? { weight: pick([1, 2, 0.5, -1, 0]) } : {}) }));
    const nums = ['w', 'price', ...(scores.length > 0 ? ['score', 's0'] : [])];
    const op = (): Step => {
      switch (int(0, 10)) {
        case 9: {
          if (r() < 0.5) {
            if (!('p' in inputs) && r() < 0.4) { inputs['p'] = some([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map(idOf), 4); return { name: 'Pin', parameters: { ids: '$p' } }; }
            return { name: 'Pin', parameters: { ids: some([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map(idOf), 4, 1) } };
          }
          return { name: 'Pin', parameters: { column: pick([...nums, 'cat']), ...(r() < 0.6 ? { desc: r() < 0.5 } : {}) } };
        }
        case 10: if (!('o' in inputs) && r() < 0.4) { inputs['o'] = int(0, 6); return { name: 'Offset', parameters: { n: '$o' } }; } return { name: 'Offset', parameters: { n: int(0, 6) } };
        case 0: { const o = pick(['==', '!=', 'in', 'not_in']); const list = o === 'in' || o === 'not_in'; return { name: 'Match', parameters: { column: 'cat', ...(o === '==' && r() < 0.5 ? {} : { op: o }), value: list ? some(['a', 'b', 'c'], 2) : pick(['a', 'b', 'c']) } }; }
        case 1: if (r() < 0.5 && !('m' in inputs)) { const o = pick(['==', '!=', 'in', 'not_in']); inputs['m'] = o.endsWith('in') || r() < 0.5 ? some(['a', 'b', 'c'], 2) : pick(['a', 'b', 'c']); return { name: 'Match', parameters: { column: 'cat', op: o, value: '$m' } }; }
          return { name: 'Match', parameters: { column: 'w', op: pick(['==', '!=']), value: int(0, 3) } };
        case 2: { const p: Record<string, unknown> = { column: pick(nums) }; const ends = pick([['min'], ['max'], ['min', 'max']]); if (ends.includes('min')) p['min'] = int(0, 3); if (ends.includes('max')) p['max'] = (p['min'] as number | undefined ?? 0) + int(0, 5); if (r() < 0.3) p['min_inclusive'] = false; if (r() < 0.3) p['max_inclusive'] = false; return { name: 'Range', parameters: p }; }
        case 3: return r() < 0.3 ? { name: 'Exclude', parameters: { dataset: `links${world.name}`, where: { tag: pick(['x', 'y', 'z']) } } } : { name: 'Exclude', parameters: { ids: some([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map(idOf), 3) } };
        case 4: case 5: return { name: 'Sort', parameters: { [r() < 0.2 ? 'score' : 'by']: pick([...nums, 'cat']), ...(r() < 0.7 ? { desc: r() < 0.6 } : {}) } };
        case 6: if (!('n' in inputs) && r() < 0.4) { inputs['n'] = int(0, 9); return { name: 'Limit', parameters: { n: '$n' } }; } return { name: 'Limit', parameters: { n: int(0, 10) } };
        case 7: return { name: 'Dedupe', parameters: { by: pick(['cat', 'w', ['cat', 'w'], ...(scores.length ? ['score'] : [])]), ...(r() < 0.5 ? { keep: int(1, 3) } : {}) } };
        default: return { name: 'DiverseSample', parameters: { n: int(0, 10), maximize: pick(nums), by: pick(['cat', 'w']) } };
      }
    };
    const operations = Array.from({ length: int(0, 3) }, op);
    // Time windows (README "Dates and time windows"), with the engines' clock at SEM_NOW.
    const bound = (): string => tpick(['now', 'now-7d', 'now-30d', 'now-36h', 'now-14d/d', 'now-2d/d', '2024-10-01', '2024-09-20T06:00:00Z', '2024-10-05T00:00:00+02:00']);
    const timed = t() < 0.3;
    if (timed) {
      const ends = tpick([['min'], ['max'], ['min', 'max']]);
      const p: Record<string, unknown> = { column: 'at' };
      for (const e of ends) p[e] = bound();
      // Two bounds of one kind (both relative, or both instants) with min after max are refused at load
      // (README "Dates and time windows"): such a window is written the right way round.
      const rel = (v: unknown): boolean => String(v).startsWith('now');
      if (p['min'] !== undefined && p['max'] !== undefined && rel(p['min']) === rel(p['max']) && timeBound(p['min'])! > timeBound(p['max'])!) [p['min'], p['max']] = [p['max'], p['min']];
      if (t() < 0.3) p['min_inclusive'] = false;
      operations.splice(Math.floor(t() * (operations.length + 1)), 0, { name: 'Range', parameters: p });
    }
    if (t() < 0.15) includes.push({ name: 'Lookup', parameters: { dataset: `items${world.name}`, where: { at: t() < 0.5 ? { min: bound() } : { max: bound() } } } });
    const tagged = includes.some((s) => s.parameters?.['columns']);
    if (tagged && r() < 0.4) operations.splice(int(0, operations.length), 0, { name: 'Match', parameters: { column: 'tag', op: pick(['==', '!=']), value: pick(['x', 'y']) } });
    if (tagged && r() < 0.2) operations.splice(int(0, operations.length), 0, { name: 'Pin', parameters: { column: 'tag', ...(r() < 0.5 ? { desc: true } : {}) } });
    // A context row (`$row.cat`): the first items row keyed by the input, or none (then its values are null).
    const ctx = r() < 0.2 && !('c' in inputs) && !('m' in inputs);
    if (ctx) {
      inputs['rid'] = idOf(int(1, 14));
      const use = { name: 'Match', parameters: { column: 'cat', op: pick(['==', '!=']), value: '$row.cat' } };
      if (r() < 0.5) operations.unshift(use); else includes.push({ name: 'Lookup', parameters: { dataset: `items${world.name}`, where: { cat: '$row.cat' } } });
    }
    if (r() < 0.2) operations.splice(int(0, operations.length), 0, { name: 'Hydrate', parameters: { columns: ['cat'] } });
    const pipeline: Pipeline = { name: `sem${c}`, item_type: 'id', items: `items${world.name}`, ...(ctx ? { context: { row: { dataset: `items${world.name}`, key: '$rid' } } } : {}), initialization: { includes, ...(excludes.length ? { excludes } : {}), ...(scores.length ? { scores } : {}) }, ...(operations.length ? { operations } : {}) };
    if (r() < 0.7 || tagged) pipeline.return = ['id', ...(scores.length ? ['score', 's0'] : []), 'cat', 'w', ...(tagged ? ['tag'] : []), ...(timed ? ['at'] : [])];
    // Requests that must fail: an input of the wrong type or out of range, an input the pipeline does not use, a missing one.
    let expectStatus = 200;
    const bad = r();
    if (bad < 0.04 && 'c' in inputs) { inputs['c'] = 5; expectStatus = 422; }
    else if (bad < 0.04 && 'rid' in inputs) { inputs['rid'] = world.ids === 'int' ? 'k1' : 1; expectStatus = 422; }
    else if (bad < 0.08 && 'n' in inputs) { inputs['n'] = pick([-1, '2', 1.5]); expectStatus = 422; }
    else if (bad < 0.08 && 'o' in inputs) { inputs['o'] = pick([-1, '2', 1.5]); expectStatus = 422; }
    else if (bad < 0.08 && 'p' in inputs) { inputs['p'] = [world.ids === 'int' ? 'k1' : 1]; expectStatus = 422; }
    else if (bad < 0.11) { inputs['unused'] = 1; expectStatus = 422; }
    else if (bad < 0.14 && Object.keys(inputs).length > 0) { delete inputs[Object.keys(inputs)[0]!]; expectStatus = 422; }
    cases.push({ world, pipeline, inputs, expectStatus, ...(expectStatus === 422 ? { expectCode: 'INPUT_INVALID' } : {}) });
  }
  return { worlds, cases };
}

/** Writes the worlds' tables under `dir/data` and a `defs.yaml` naming them (itemsK keyed by id, linksK). */
export async function writeWorlds(dir: string, worlds: readonly World[]): Promise<void> {
  await mkdir(join(dir, 'data'));
  const defs: string[] = ['datasets:'];
  for (const w of worlds) {
    const t = w.ids === 'int' ? 'integer' : 'string';
    await writeFile(join(dir, `data/items${w.name}.json`), JSON.stringify(w.items));
    await writeFile(join(dir, `data/links${w.name}.json`), JSON.stringify(w.links));
    defs.push(`  items${w.name}: {path: data/items${w.name}.json, key: id, columns: {id: ${t}, cat: string, w: number, price: number, at: timestamp}}`);
    defs.push(`  links${w.name}: {path: data/links${w.name}.json, columns: {id: ${t}, tag: string}}`);
  }
  await writeFile(join(dir, 'defs.yaml'), defs.join('\n') + '\n');
}
