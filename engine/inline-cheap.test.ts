import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinOperators } from '../operators/index.js';
import { loadConfigSet, type Snapshot } from './config/load.js';
import { CheapInlineRunner } from './inline-cheap.js';
import { PoolRunner } from './pool.js';

const BUILTINS_URL = new URL('../operators/index.ts', import.meta.url).href;
let snap: Snapshot;
let pool: PoolRunner;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'airmail-inline-'));
  // 10 rows in group a, 100,000 in group b: the same pipeline is cheap or not by its input.
  const rows = Array.from({ length: 100_010 }, (_, i) => ({ id: i + 1, g: i < 10 ? 'a' : 'b', w: (i * 7919) % 1000 }));
  await writeFile(join(dir, 'items.json'), JSON.stringify(rows));
  const text = `datasets:
  items: {path: items.json, key: id}
pipelines:
- name: top
  item_type: id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {g: $g}}}]
  operations: [{name: Sort, parameters: {by: w, desc: true}}, {name: Limit, parameters: {n: 3}}]
  return: [id, w]
- name: scored
  item_type: id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {g: a}}}]
    scores: [{name: ModelScore, parameters: {model: ${JSON.stringify(new URL('../configs/models/psale_demo.onnx', import.meta.url).pathname)}, features: [${Array.from({ length: 24 }, () => 'w').join(', ')}]}}]
  return: [id, score]
`;
  const r = await loadConfigSet([{ path: join(dir, 'p.yaml'), text }], { operators: new Map(builtinOperators.map((d) => [d.name, d])) });
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  snap = r.snapshot;
  pool = new PoolRunner({ threads: 1, operatorModules: [BUILTINS_URL] });
});
afterAll(async () => pool?.close());

describe('CheapInlineRunner', () => {
  it('moves a cheap built-in pipeline to the main thread after workers measured it, with the same answers, and back when a run is not cheap', async () => {
    // Workers' times are real (a median well under half of a 10 ms budget, even on a busy machine);
    // inline times come from this clock: 0.2 ms, or 100 ms for the 100,000 rows of group b.
    let t = 0, nextMs = 0.2, started = false;
    const clock = (): number => ((started = !started) ? t : (t += nextMs));
    const runner = new CheapInlineRunner(pool, new Map(builtinOperators.map((d) => [d.name, d])), 10, undefined, 5, clock);
    const p = snap.pipelines.get('top')!;
    const run = (g: string) => ((nextMs = g === 'a' ? 0.2 : 100), runner.run({ pipeline: p, snapshot: snap, inputs: { g } }));
    const pooled = await run('a');
    for (let i = 0; i < 4; i++) await run('a');
    expect(runner.inlineRuns).toBe(0);
    expect(runner.runsInline(p)).toBe(false);
    // Five runs measured by the workers: the next one decides, and runs inline.
    const inline = await run('a');
    expect(runner.runsInline(p)).toBe(true);
    await run('a');
    expect(runner.inlineRuns).toBe(2);
    expect(Array.from(inline.columns['id'] as Int32Array)).toEqual(Array.from(pooled.columns['id'] as Int32Array));
    expect(inline.length).toBe(3);
    // 100,000 rows to sort on the main thread: far over the budget. One such run could be a GC
    // pause or other requests' work between its awaits; the second says the pipeline is not cheap.
    const big = await run('b');
    expect(big.length).toBe(3);
    expect(runner.runsInline(p)).toBe(true);
    await run('b');
    expect(runner.runsInline(p)).toBe(false);
    const inlineRuns = runner.inlineRuns;
    await run('a');
    expect(runner.inlineRuns).toBe(inlineRuns);
  });

  it('stays inline through an occasional slow run among fast ones (a GC pause or other requests between its awaits look the same)', async () => {
    // Run times come from this clock, not the machine's: each run takes `nextMs`.
    let t = 0, nextMs = 0.2, started = false;
    const clock = (): number => ((started = !started) ? t : (t += nextMs));
    const runner = new CheapInlineRunner(pool, new Map(builtinOperators.map((d) => [d.name, d])), 2, undefined, 5, clock);
    const p = snap.pipelines.get('top')!;
    const run = async (ms: number): Promise<void> => {
      nextMs = ms;
      expect((await runner.run({ pipeline: p, snapshot: snap, inputs: { g: 'a' } })).length).toBe(3);
    };
    for (let i = 0; i < 6; i++) await run(0.2);
    expect(runner.runsInline(p)).toBe(true);
    // One slow run (10x the budget) in every four: never two among the last four, and the median stays fast.
    const before = runner.inlineRuns;
    for (let i = 0; i < 24; i++) await run(i % 4 === 0 ? 20 : 0.2);
    expect(runner.runsInline(p)).toBe(true);
    expect(runner.inlineRuns).toBe(before + 24);
    await run(20);
    expect(runner.runsInline(p)).toBe(true);
    // Two slow among the last four: back to the workers.
    await run(20);
    expect(runner.runsInline(p)).toBe(false);
  });

  it('goes back to the workers on one runaway run, or when the median of recent runs passes the budget', async () => {
    let t = 0, nextMs = 0.2, started = false;
    const clock = (): number => ((started = !started) ? t : (t += nextMs));
    const make = () => new CheapInlineRunner(pool, new Map(builtinOperators.map((d) => [d.name, d])), 2, undefined, 5, clock);
    const p = snap.pipelines.get('top')!;
    const run = async (runner: CheapInlineRunner, ms: number): Promise<void> => {
      nextMs = ms;
      await runner.run({ pipeline: p, snapshot: snap, inputs: { g: 'a' } });
    };
    const runaway = make();
    for (let i = 0; i < 8; i++) await run(runaway, 0.2);
    expect(runaway.runsInline(p)).toBe(true);
    await run(runaway, 101); // past 50x the budget
    expect(runaway.runsInline(p)).toBe(false);

    const creeping = make();
    for (let i = 0; i < 20; i++) await run(creeping, 0.2);
    expect(creeping.runsInline(p)).toBe(true);
    // Just over the budget every time: never 4x, but once eight of the last sixteen are, the median passes it.
    let k = 0;
    while (creeping.runsInline(p) && k < 40) (await run(creeping, 2.5), k++);
    expect(creeping.runsInline(p)).toBe(false);
    expect(k).toBe(8);
  });

  it('never runs model scoring inline', async () => {
    const runner = new CheapInlineRunner(pool, new Map(builtinOperators.map((d) => [d.name, d])), 1000, undefined, 2);
    const p = snap.pipelines.get('scored')!;
    for (let i = 0; i < 4; i++) expect((await runner.run({ pipeline: p, snapshot: snap, inputs: {} })).length).toBe(10);
    expect(runner.inlineRuns).toBe(0);
    expect(runner.runsInline(p)).toBe(false);
  });

  it('turns off with a budget of 0', async () => {
    const runner = new CheapInlineRunner(pool, new Map(builtinOperators.map((d) => [d.name, d])), 0, undefined, 1);
    const p = snap.pipelines.get('top')!;
    for (let i = 0; i < 3; i++) await runner.run({ pipeline: p, snapshot: snap, inputs: { g: 'a' } });
    expect(runner.inlineRuns).toBe(0);
  });
});
