/**
 * Regression: the rows a custom filter or transform returns were used as given. A filter that
 * returned row 9999 and a row twice answered an item with a null id and one item twice, with
 * error: false. Now the step fails with 500 OPERATOR_FAILED naming it and the row.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineOperator, valueAt, type Column, type Dataset, type OperatorDefinition } from '../engine/api.js';
import { loadConfigSet } from '../engine/config/load.js';
import { execute } from '../engine/execute.js';
import { loadModel } from '../engine/onnx.js';
import { builtinOperators } from '../operators/index.js';
import { tempDir } from './helpers.js';

type Mode = 'extra' | 'twice' | 'order' | 'nan' | 'ok-array';
const badFilter = defineOperator<{ mode: Mode }>({
  kind: 'filter', name: 'BadFilter', summary: 'breaks the filter contract as told',
  parameters: { type: 'object', required: ['mode'], properties: { mode: { type: 'string' } } },
  run: (p, input) => {
    const r = Array.from(input.rows);
    if (p.mode === 'extra') return Int32Array.from([...r, 9999]);
    if (p.mode === 'twice') return Int32Array.from([...r, r[0]!]);
    if (p.mode === 'order') return Int32Array.from(r.reverse());
    if (p.mode === 'nan') return [NaN] as unknown as Int32Array;
    return r.slice(1) as unknown as Int32Array; // a plain array of kept rows: accepted
  },
});
const badTransform = defineOperator<{ mode: 'twice' | 'extra' | 'short-column' | 'reverse' }>({
  kind: 'transform', name: 'BadTransform', summary: 'breaks the transform contract as told',
  parameters: { type: 'object', required: ['mode'], properties: { mode: { type: 'string' } } },
  run: (p, input) => {
    const r = Array.from(input.rows);
    if (p.mode === 'twice') return { rows: Int32Array.from([r[0]!, r[0]!]) };
    if (p.mode === 'extra') return { rows: Int32Array.of(-1) };
    if (p.mode === 'short-column') return { columns: { x: Float64Array.of(1) as Column } };
    return { rows: Int32Array.from(r.reverse()) };
  },
});
const OPS = new Map<string, OperatorDefinition>([...builtinOperators, badFilter as OperatorDefinition, badTransform as OperatorDefinition].map((d) => [d.name, d]));

async function run(step: string) {
  const dir = await tempDir('airmail-rows-');
  await writeFile(join(dir, 'items.json'), JSON.stringify([{ sku: 1 }, { sku: 2 }, { sku: 3 }]));
  const text = `datasets:\n  items: {path: items.json, key: sku}\npipeline:\n  name: p\n  item_type: sku\n  initialization:\n    includes: [{name: Lookup, parameters: {dataset: items}}]\n  operations: [${step}]\n`;
  const r = await loadConfigSet([{ path: join(dir, 'p.yaml'), text }], { operators: OPS });
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  const env = { datasets: r.snapshot.datasets as ReadonlyMap<string, Dataset>, operators: OPS, model: loadModel };
  return execute(r.snapshot.pipelines.get('p')!.plan, env, {}, { literal: true });
}

async function failure(step: string): Promise<{ code?: string; operator?: string; message: string }> {
  try {
    const out = await run(step);
    return { message: `no error: ${JSON.stringify(Array.from({ length: out.length }, (_, i) => valueAt(out.columns['sku']!, i)))}` };
  } catch (err) {
    return err as { code?: string; operator?: string; message: string };
  }
}

describe('rows returned by filters and transforms are checked', () => {
  it.each([
    ['{name: BadFilter, parameters: {mode: extra}}', 'returned row 9999, which is not one of its input rows'],
    ['{name: BadFilter, parameters: {mode: twice}}', 'returned row 0 twice'],
    ['{name: BadFilter, parameters: {mode: order}}', 'out of order'],
    ['{name: BadFilter, parameters: {mode: nan}}', 'returned NaN as a row'],
    ['{name: BadTransform, parameters: {mode: twice}}', 'returned row 0 twice'],
    ['{name: BadTransform, parameters: {mode: extra}}', 'returned row -1, which is not one of its input rows'],
    ['{name: BadTransform, parameters: {mode: short-column}}', "returned column 'x' with 1 values for 3 rows"],
  ])('%s fails the request: %s', async (step, words) => {
    const e = await failure(step);
    expect(e).toMatchObject({ code: 'OPERATOR_FAILED' });
    expect(e.operator).toMatch(/^Bad(Filter|Transform)$/);
    expect(e.message).toContain(words);
  });

  it('rows kept by the contract pass, plain arrays included', async () => {
    const kept = await run('{name: BadFilter, parameters: {mode: ok-array}}');
    expect(Array.from(kept.columns['sku'] as Int32Array)).toEqual([2, 3]);
    const reversed = await run('{name: BadTransform, parameters: {mode: reverse}}');
    expect(Array.from(reversed.columns['sku'] as Int32Array)).toEqual([3, 2, 1]);
  });
});
