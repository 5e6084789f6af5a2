import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { OperatorDefinition, RowSet } from '../engine/api.js';
import { loadConfigSet } from '../engine/config/load.js';
import { execute } from '../engine/execute.js';
import { loadModel } from '../engine/onnx.js';
import { builtinOperators } from '../operators/index.js';

// The README's "Page 2" recipe (Sort, Offset $offset, Limit $size) sorted every candidate: the partial sort
// looked one step ahead only, and an Offset stood between the Sort and the Limit. Offset now says it needs
// upTo + n of its input (passesUpTo), so the Sort is told offset + size, bound per request.
describe('Sort → Offset → Limit (README "Page 2")', () => {
  it('tells the Sort it needs only offset + size rows, and answers the same page as a full sort', async () => {
    const told: (number | undefined)[] = [];
    const ops = new Map<string, OperatorDefinition>(builtinOperators.map((d) => [d.name, d]));
    const sort = ops.get('Sort')!;
    if (sort.kind !== 'transform') throw new Error('Sort is a transform');
    ops.set('Sort', { ...sort, run: (p: unknown, input: RowSet, ctx) => { told.push(input.upTo); return sort.run(p, input, ctx); } } as OperatorDefinition);
    const dir = await mkdtemp(join(tmpdir(), 'airmail-page2-'));
    const rows = Array.from({ length: 5000 }, (_, i) => ({ id: i + 1, views: (i * 7919) % 1013 }));
    await writeFile(join(dir, 'items.json'), JSON.stringify(rows));
    const text = `datasets:
  items: {path: items.json, key: id}
pipeline:
  name: trending_page
  item_type: id
  inputs: {offset: {default: 0}, size: {default: 10}}
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
    scores: [{name: Column, parameters: {column: views}}]
  operations:
  - {name: Sort, parameters: {by: score, desc: true}}
  - {name: Offset, parameters: {n: $offset}}
  - {name: Limit, parameters: {n: $size}}
  return: [id, score]
`;
    const r = await loadConfigSet([{ path: join(dir, 'p.yaml'), text }], { operators: ops });
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const plan = r.snapshot.pipelines.get('trending_page')!.plan;
    const env = { datasets: r.snapshot.datasets, operators: ops, model: loadModel };
    const full = rows.slice().sort((a, b) => b.views - a.views || a.id - b.id);
    for (const [offset, size] of [[0, 10], [10, 10], [37, 5], [4995, 10], [6000, 3]] as const) {
      told.length = 0;
      const out = await execute(plan, env, { offset, size });
      expect(told, `offset ${offset} size ${size}`).toEqual([offset + size]);
      const want = full.slice(offset, offset + size).map((x) => x.id);
      expect(want.length === 0 ? [] : Array.from(out.columns['id'] as Int32Array)).toEqual(want);
      // A traced (debug) run still sees the whole ordering, and answers the same page.
      told.length = 0;
      const traced = await execute(plan, env, { offset, size }, { trace: true });
      expect(told).toEqual([undefined]);
      expect(want.length === 0 ? [] : Array.from(traced.columns['id'] as Int32Array)).toEqual(want);
    }
  });
});
