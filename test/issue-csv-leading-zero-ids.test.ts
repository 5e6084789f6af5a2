/**
 * A grocery chain's purchases export holds client ids as text, `00123` and `123` being two clients.
 * An undeclared CSV column of plain decimal cells was read as numbers, so both became 123: the
 * exclusion of one client's purchases silently removed the other's too (and a context lookup by
 * "00123" was told to write 123). A column with a cell written with a leading zero (`007`, `00123`,
 * not `0` or `0.5`) is text unless declared otherwise: reading it as a number would lose what tells
 * its values apart.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../engine/api.js';
import { valueAt } from '../engine/api.js';
import { loadConfigSet } from '../engine/config/load.js';
import { tableFromCsv } from '../engine/dataset.js';
import { execute } from '../engine/execute.js';
import { loadModel } from '../engine/onnx.js';
import { OPS, tempDir } from './helpers.js';

const values = (t: ReturnType<typeof tableFromCsv>, c: string): unknown[] => Array.from({ length: t.length }, (_, i) => valueAt(t.column(c), i));

describe('CSV cells with leading zeros', () => {
  it('make an undeclared column text; 0, 0.5, -0.25 and 10 stay numbers', () => {
    const t = tableFromCsv('p', 'client_id,price,zip\n00123,0.5,7\n123,0,007\n,-0.25,10\n', undefined, undefined, 'p.csv');
    expect(values(t, 'client_id')).toEqual(['00123', '123', null]);
    expect(t.column('price')).toBeInstanceOf(Float64Array);
    expect(values(t, 'price')).toEqual([0.5, 0, -0.25]);
    expect(values(t, 'zip')).toEqual(['7', '007', '10']);
  });

  it('a declared number still reads them as numbers', () => {
    const t = tableFromCsv('p', 'qty\n007\n12\n', undefined, { qty: 'integer' }, 'p.csv');
    expect(values(t, 'qty')).toEqual([7, 12]);
  });

  it('00123 and 123 stay two clients through a Lookup exclude', async () => {
    const dir = await tempDir('airmail-csv-zeros-');
    await writeFile(join(dir, 'purchases.csv'), 'client_id,sku\n00123,SKU-2\n123,SKU-1\n');
    const config = [
      'datasets:',
      '  purchases: {path: purchases.csv}',
      'pipeline:',
      '  name: not_bought',
      '  item_type: sku',
      '  initialization:',
      '    includes: [{name: Static, parameters: {items: [SKU-1, SKU-2, SKU-3]}}]',
      '    excludes: [{name: Lookup, parameters: {dataset: purchases, where: {client_id: $client_id}}}]',
      '',
    ].join('\n');
    const r = await loadConfigSet([{ path: join(dir, 'p.yaml'), text: config }], { operators: OPS });
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const p = r.snapshot.pipelines.get('not_bought')!;
    const run = async (client: string): Promise<unknown[]> => {
      const out = await execute(p.plan, { datasets: r.snapshot.datasets as ReadonlyMap<string, Dataset>, operators: OPS, model: loadModel }, { client_id: client });
      return Array.from({ length: out.length }, (_, i) => valueAt(out.columns['sku']!, i));
    };
    expect(await run('00123')).toEqual(['SKU-1', 'SKU-3']);
    expect(await run('123')).toEqual(['SKU-2', 'SKU-3']);
  });
});
