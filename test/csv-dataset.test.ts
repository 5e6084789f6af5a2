/**
 * CSV datasets: a retailer's exports are often CSV, and datasets read only Arrow and JSON, so a user
 * had to convert every table first. A `.csv` path (or `format: csv`) is read with a header row,
 * RFC 4180 quoting, numbers typed, empty cells null, and `columns:` declaring a type where the
 * guess would be wrong (`007` kept as text).
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

describe('tableFromCsv', () => {
  it('types numeric columns, keeps text (quoted commas, quotes, unicode) and reads empty cells as null', () => {
    const t = tableFromCsv('c', '\uFEFFsku,price,name,stock\r\n1,9.5,"Shoe, red",3\r\n2,,"say ""hi""",\r\n3,12,Été 👟,7\r\n', 'sku', undefined, 'c.csv');
    expect(t.column('sku')).toBeInstanceOf(Int32Array);
    expect(values(t, 'sku')).toEqual([1, 2, 3]);
    expect(t.column('price')).toBeInstanceOf(Float64Array);
    expect(values(t, 'price')).toEqual([9.5, null, 12]);
    expect(values(t, 'name')).toEqual(['Shoe, red', 'say "hi"', 'Été 👟']);
    // An integer column with an empty cell is float64 with NaN (null), as in JSON rows.
    expect(t.column('stock')).toBeInstanceOf(Float64Array);
    expect(values(t, 'stock')).toEqual([3, null, 7]);
  });

  it('a column with any non-number cell is text; 0x10 and Infinity are not numbers', () => {
    const t = tableFromCsv('c', 'a,b,c\n1,0x10,x\n2,Infinity,3\n', undefined, undefined, 'c.csv');
    expect(values(t, 'b')).toEqual(['0x10', 'Infinity']);
    expect(values(t, 'c')).toEqual(['x', '3']);
  });

  it('a declared type wins: string keeps leading zeros; integer refuses a cell that is not one, naming its row', () => {
    const t = tableFromCsv('c', 'zip,n\n007,1\n010,2\n', undefined, { zip: 'string' }, 'c.csv');
    expect(values(t, 'zip')).toEqual(['007', '010']);
    expect(() => tableFromCsv('c', 'n\n1\n2.5\n', undefined, { n: 'integer' }, 'c.csv')).toThrow("column 'n' is declared integer, but row 3 holds \"2.5\"");
  });

  it('refuses a ragged row, a duplicate or empty header name and an unclosed quote, saying where', () => {
    expect(() => tableFromCsv('c', 'a,b\n1\n', undefined, undefined, 'c.csv')).toThrow('c.csv: row 2 has 1 cells; the header has 2');
    expect(() => tableFromCsv('c', 'a,a\n1,2\n', undefined, undefined, 'c.csv')).toThrow("c.csv names column 'a' twice");
    expect(() => tableFromCsv('c', 'a,\n1,2\n', undefined, undefined, 'c.csv')).toThrow('c.csv needs a header row naming every column');
    expect(() => tableFromCsv('c', 'a\n"1\n', undefined, undefined, 'c.csv')).toThrow('c.csv: row 2 opens a quoted cell that is never closed');
    // the row where the quote opened, not the end of the file it swallowed
    expect(() => tableFromCsv('c', 'a,b\n1,2\n\n3,"x\n4,5\n6,7\n', undefined, undefined, 'c.csv')).toThrow('c.csv: row 3 opens a quoted cell');
  });
});

describe('a CSV dataset in a config', () => {
  async function load(files: Record<string, string>, config: string) {
    const dir = await tempDir('airmail-csv-');
    for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text);
    return loadConfigSet([{ path: join(dir, 'p.yaml'), text: config }], { operators: OPS });
  }

  it('serves a pipeline: lookups, excludes and a text filter over CSV tables', async () => {
    const r = await load({
      'items.csv': 'sku,dept,price\n1,shoes,10\n2,shoes,20\n3,bags,30\n4,shoes,\n',
      'bought.csv': 'client_id,sku\n7,2\n',
    }, `datasets:
  items: {path: items.csv, key: sku}
  bought: {path: bought.csv}
pipeline:
  name: p
  item_type: sku
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
    excludes: [{name: Lookup, parameters: {dataset: bought, where: {client_id: $client_id}}}]
  operations:
  - {name: Match, parameters: {column: dept, value: shoes}}
  - {name: Sort, parameters: {by: price, desc: true}}
  return: [sku, price]
`);
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const p = r.snapshot.pipelines.get('p')!;
    expect(JSON.stringify(p.inputSchema)).toContain('"integer"');
    expect(JSON.stringify(p.inputSchema)).not.toContain('"string"');
    const out = await execute(p.plan, { datasets: r.snapshot.datasets as ReadonlyMap<string, Dataset>, operators: OPS, model: loadModel }, { client_id: 7 });
    expect(Array.from({ length: out.length }, (_, i) => [valueAt(out.columns['sku']!, i), valueAt(out.columns['price']!, i)])).toEqual([[1, 10], [4, null]]);
  });

  it('an empty JSON dataset file says it is empty and how to write no rows, not "Unexpected end of JSON input"', async () => {
    const r = await load({ 'returns.json': '\n' }, 'datasets:\n  returns: {path: returns.json, columns: {sku: integer}}\n');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n')).toMatch(/DATASET_LOAD_FAILED dataset 'returns': cannot decode .*returns\.json as json: the file is empty; a dataset of no rows is written \[\]/);
  });

  it('a bad CSV is a load error naming the dataset, the file and the row', async () => {
    const r = await load({ 'items.csv': 'sku,dept\n1,shoes\n2\n' }, 'datasets:\n  items: {path: items.csv, key: sku}\n');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n')).toMatch(/DATASET_LOAD_FAILED dataset 'items': cannot decode .*items\.csv as csv: .*items\.csv: row 3 has 1 cells; the header has 2/);
  });
});
