import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinOperators } from '../operators/index.js';
import { loadConfigSet, type Snapshot } from './config/load.js';
import { CheapInlineRunner } from './inline-cheap.js';
import { InlineRunner, PoolRunner } from './pool.js';

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
    const runner = new CheapInlineRunner(pool, new Map(builtinOperators.map((d) => [d.name, d])), 2, undefined, 5);
    const p = snap.pipelines.get('top')!;
    const run = (g: string) => runner.run({ pipeline: p, snapshot: snap, inputs: { g } });
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
    await run('b');
    expect(runner.runsInline(p)).toBe(false);
    const inlineRuns = runner.inlineRuns;
    await run('a');
    expect(runner.inlineRuns).toBe(inlineRuns);
  });

  it('stays inline through an occasional slow run among fast ones (a GC pause or other requests between its awaits look the same)', async () => {
    const runner = new CheapInlineRunner(pool, new Map(builtinOperators.map((d) => [d.name, d])), 2, undefined, 5);
    const p = snap.pipelines.get('top')!;
    const run = (g: string) => runner.run({ pipeline: p, snapshot: snap, inputs: { g } });
    // This thread's index of group b, built once outside the runner: the slow runs below are slow, not runaways.
    await new InlineRunner(undefined).run({ pipeline: p, snapshot: snap, inputs: { g: 'b' } });
    for (let i = 0; i < 6; i++) await run('a');
    expect(runner.runsInline(p)).toBe(true);
    // One slow run in every four: never two among the last four, and the median stays fast.
    const before = runner.inlineRuns;
    for (let i = 0; i < 24; i++) await run(i % 4 === 0 ? 'b' : 'a');
    expect(runner.runsInline(p)).toBe(true);
    expect(runner.inlineRuns).toBe(before + 24);
    await run('b');
    expect(runner.runsInline(p)).toBe(true);
    await run('b');
    expect(runner.runsInline(p)).toBe(false);
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
