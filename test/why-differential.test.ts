/**
 * Differential test of "why is (or is not) this item in the result?" and of the debug trace: the
 * seeded pipelines of semantics-cases.ts are written as named pipelines into a configs directory
 * (why needs a name), and for each, every item id the world can hold, one no source produces, one
 * given as text where ids are integers, and ids of the wrong type are asked about through
 * `POST /pipelines/{name}/why`. The answer must agree with what the README reference
 * (semantics-reference.ts `run`) records for that item: not_included / unknown_item, excluded (by
 * how many excludes), filtered or cut (by which operation, with its rows in and out, the item's
 * values and its rank), or kept (position and score). The `?debug=true` trace of the same request
 * must list the reference's steps with their rows in and out.
 * WHY_SEED and WHY_CASES change the run; a failure prints the case to replay.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import { createApp } from '../engine/http/app.js';
import type { DebugStep, WhyAnswer } from '../engine/observe/types.js';
import { builtinOperators } from '../operators/index.js';
import { OPERATORS_URL, tempDir } from './helpers.js';
import { gen, writeWorlds } from './semantics-cases.js';
import { byDesc, run, type Case, type Id } from './semantics-reference.js';
import { SEM_NOW } from './semantics-reference.js';

const SEED = Number(process.env['WHY_SEED'] ?? 11);
const CASES = Number(process.env['WHY_CASES'] ?? 60);
const { worlds, cases: all } = gen(SEED, CASES);
const cases = all.filter((k) => k.expectStatus === 200);
let engine: Engine;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  const dir = await tempDir('airmail-why-');
  await writeWorlds(dir, worlds);
  for (const k of cases) await writeFile(join(dir, `${k.pipeline.name}.yaml`), stringify({ pipeline: k.pipeline }));
  engine = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, inlineUnderMs: 0, watch: false, remote: {}, clock: () => SEM_NOW });
  expect(await engine.start()).toEqual([]);
  app = createApp(engine);
});
afterAll(() => engine.close());

const post = async (path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
  const res = await app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/** What the reference says /why must answer for `id`, as a list of disagreements with `why`. */
function disagreements(k: Case, id: Id, why: WhyAnswer): string[] {
  const t = run(k.world, k.pipeline, k.inputs);
  const f = t.fate(id);
  const out: string[] = [];
  const eq = (what: string, got: unknown, want: unknown): void => {
    if (JSON.stringify(got) !== JSON.stringify(want)) out.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  };
  eq('verdict', why.verdict, f.verdict);
  if (f.verdict === 'empty') return out;
  eq('includedBy', why.includedBy.length, t.includedBy(id).length);
  if (f.verdict === 'excluded') eq('excludedBy', why.excludedBy.length, f.excludes.length);
  if (f.verdict === 'filtered' || f.verdict === 'cut') {
    const s = t.steps.filter((x) => x.phase === 'operation')[f.step]!;
    eq('removedBy', [why.removedBy?.operator, why.removedBy?.rowsIn, why.removedBy?.rowsOut], [f.operator, s.rowsIn, s.rowsOut]);
    const p = (k.pipeline.operations![f.step]!.parameters ?? {}) as Record<string, unknown>;
    const read = f.operator === 'Match' || f.operator === 'Range' ? [p['column'] as string] : f.operator === 'Dedupe' ? [p['by']].flat() as string[] : [];
    for (const c of read) eq(`values.${c}`, why.removedBy?.values[c], t.value(id, c));
    if (f.verdict === 'cut') {
      const entering = t.entering[f.step]!;
      const by = f.operator === 'DiverseSample' ? (p['maximize'] as string) : 'order';
      const rank = by === 'order' ? entering.indexOf(id) + 1 : entering.slice().sort(byDesc(t.value, by)).indexOf(id) + 1;
      eq('cut at', [why.rankedBy, why.rank, why.of], [by, rank, entering.length]);
    }
  }
  if (f.verdict === 'kept') eq('kept at', [why.rank, why.of, ...(f.score !== undefined ? [why.score] : [])], [f.rank, f.of, ...(f.score !== undefined ? [f.score] : [])]);
  return out;
}

describe('/why and the debug trace agree with the README reference', () => {
  it(`${cases.length} seeded named pipelines (seed ${SEED}), every item`, async () => {
    const mismatches: string[] = [];
    const seen = new Map<string, number>();
    const count = (what: string): void => void seen.set(what, (seen.get(what) ?? 0) + 1);
    for (const k of cases) {
      const idOf = (i: number): Id => (k.world.ids === 'int' ? i : `k${i}`);
      const name = k.pipeline.name;
      const t = run(k.world, k.pipeline, k.inputs);
      // The debug trace: one step per include, exclude, scorer and operation, with the reference's counts.
      const dbg = await post(`/pipelines/${name}?debug=true`, k.inputs);
      const steps = ((dbg.body['debug'] as { steps?: DebugStep[] } | undefined)?.steps ?? []).map((s) => [s.phase, s.operator, s.rowsIn, s.rowsOut]);
      const want = t.steps.map((s) => [s.phase, s.operator, s.rowsIn, s.rowsOut]);
      if (JSON.stringify(steps) !== JSON.stringify(want)) mismatches.push(`${name} debug steps\n  got  ${JSON.stringify(steps)}\n  want ${JSON.stringify(want)}`);
      const asked: [Id, Id][] = Array.from({ length: 15 }, (_, i) => [idOf(i + 1), idOf(i + 1)]);
      // An integer id sent as text is that id; a number where ids are text is that text (which no row holds).
      asked.push(k.world.ids === 'int' ? ['3', 3] : [3, '3']);
      for (const [item, id] of asked) {
        const res = await post(`/pipelines/${name}/why`, { inputs: k.inputs, item });
        const why = res.body['why'] as WhyAnswer | undefined;
        if (res.status !== 200 || !why) { mismatches.push(`${name} item ${JSON.stringify(item)}: ${res.status} ${JSON.stringify(res.body)}`); continue; }
        const f = t.fate(id);
        count(f.verdict);
        if (f.verdict === 'excluded' && f.excludes.length > 1) count('excluded twice');
        if (f.verdict === 'kept' && (k.pipeline.operations ?? []).some((s) => s.name === 'Pin')) count('kept, pinned');
        const d = disagreements(k, id, why);
        if (d.length > 0) mismatches.push(`${name} item ${JSON.stringify(item)}: ${d.join('; ')}\n  ${why.reason}\n  world ${k.world.name} items=${JSON.stringify(k.world.items)} links=${JSON.stringify(k.world.links)}\n  pipeline=${JSON.stringify(k.pipeline)} inputs=${JSON.stringify(k.inputs)}`);
      }
      // Ids of the wrong type for an integer id column are refused, naming /item.
      if (k.world.ids === 'int') {
        for (const item of ['abc', 1.5]) {
          const res = await post(`/pipelines/${name}/why`, { inputs: k.inputs, item });
          if (res.status !== 422 || !JSON.stringify(res.body).includes('/item')) mismatches.push(`${name} item ${JSON.stringify(item)}: want a 422 naming /item, got ${res.status} ${JSON.stringify(res.body)}`);
        }
      }
      if (mismatches.length >= 6) break;
    }
    expect(mismatches.slice(0, 6).join('\n\n')).toBe('');
    // Every kind of answer was asked about.
    for (const v of ['kept', 'kept, pinned', 'not_included', 'unknown_item', 'excluded', 'excluded twice', 'filtered', 'cut', 'empty']) expect(seen.get(v) ?? 0, v).toBeGreaterThan(0);
  });
});
