/**
 * Regression: a JSON dataset takes its columns from its rows, so an empty one (a purchases export
 * with no purchases yet) had no columns at all, and every config reading one of them was rejected
 * with "has no column 'client_id' (it has: )". A dataset may now declare the columns it may lack.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../engine/api.js';
import { valueAt } from '../engine/api.js';
import { loadConfigSet } from '../engine/config/load.js';
import { execute } from '../engine/execute.js';
import { loadModel } from '../engine/onnx.js';
import { OPS, tempDir } from './helpers.js';

const PIPELINE = `pipeline:
  name: p
  item_type: sku
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
    excludes: [{name: Lookup, parameters: {dataset: bought, where: {client_id: $client_id}}}]
  return: [sku]
`;

async function load(boughtRows: unknown[], declare: string) {
  const dir = await tempDir('airmail-empty-');
  await writeFile(join(dir, 'items.json'), JSON.stringify([{ sku: 1 }, { sku: 2 }]));
  await writeFile(join(dir, 'bought.json'), JSON.stringify(boughtRows));
  const text = `datasets:\n  items: {path: items.json, key: sku}\n  bought: {path: bought.json${declare}}\n${PIPELINE}`;
  return loadConfigSet([{ path: join(dir, 'p.yaml'), text }], { operators: OPS });
}

describe('an empty JSON dataset', () => {
  it('without declared columns is refused with a sentence that says how to declare them', async () => {
    const r = await load([], '');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics.map((d) => d.message).join('\n')).toContain("dataset 'bought' has no column 'client_id' (it is empty: it was read from no rows, so it has no columns (a file dataset can declare them: columns: {name: integer|number|string}))");
  });

  it('with declared columns loads, types its inputs and excludes nothing', async () => {
    const r = await load([], ', columns: {client_id: integer, sku: integer}');
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const p = r.snapshot.pipelines.get('p')!;
    expect(p.inputSchema).toMatchObject({ properties: { client_id: { items: { type: 'integer' } } } });
    const out = await execute(p.plan, { datasets: r.snapshot.datasets as ReadonlyMap<string, Dataset>, operators: OPS, model: loadModel }, { client_id: 7 });
    expect(Array.from({ length: out.length }, (_, i) => valueAt(out.columns['sku']!, i))).toEqual([1, 2]);
  });

  it('declared columns the rows have change nothing; missing ones are null', async () => {
    const r = await load([{ client_id: 7, sku: 2 }], ', columns: {client_id: integer, sku: integer, note: string}');
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const bought = r.snapshot.datasets.get('bought')!;
    expect(bought.column('client_id')).toBeInstanceOf(Int32Array);
    expect(valueAt(bought.column('note'), 0)).toBeNull();
    const p = r.snapshot.pipelines.get('p')!;
    const out = await execute(p.plan, { datasets: r.snapshot.datasets as ReadonlyMap<string, Dataset>, operators: OPS, model: loadModel }, { client_id: 7 });
    expect(Array.from({ length: out.length }, (_, i) => valueAt(out.columns['sku']!, i))).toEqual([1]);
  });

  it('a declared string column the rows hold only as null is text, so a text literal compared with it loads (found by semantics-differential)', async () => {
    // It read as a number column of NaN whatever `columns:` said, and `where: {note: sale}` was refused at load:
    // '"sale" is text, but column 'note' of dataset 'bought' holds numbers', while the same file with one note loaded.
    const dir = await tempDir('airmail-nullcol-');
    await writeFile(join(dir, 'items.json'), JSON.stringify([{ sku: 1, note: null }, { sku: 2 }]));
    const text = `datasets:\n  items: {path: items.json, key: sku, columns: {note: string}}
pipeline:
  name: p
  item_type: sku
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
  operations: [{name: Match, parameters: {column: note, op: '!=', value: sale}}]
  return: [sku, note]
`;
    const r = await loadConfigSet([{ path: join(dir, 'p.yaml'), text }], { operators: OPS });
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
    const p = r.snapshot.pipelines.get('p')!;
    const out = await execute(p.plan, { datasets: r.snapshot.datasets as ReadonlyMap<string, Dataset>, operators: OPS, model: loadModel }, {});
    expect(Array.from({ length: out.length }, (_, i) => [valueAt(out.columns['sku']!, i), valueAt(out.columns['note']!, i)])).toEqual([[1, null], [2, null]]);
  });
});
