/**
 * Issue: a JSON dataset column declared `number` (`columns: {price: number}`) whose file held text
 * (`"abc"`) loaded, and served that text; the declaration was only read for CSV files and for
 * columns the data lacks. Now a numeric text in a declared `integer`/`number` column (`"3.5"`,
 * `" 7 "`) is read as its number, as a CSV cell is, and any other text is a DATASET_LOAD_FAILED
 * naming the file, the row and the column; on a hot reload the last good table keeps serving.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { valueAt } from '../engine/api.js';
import { loadDatasetFile } from '../engine/dataset.js';
import { configStores, tempDir, until } from './helpers.js';

const open = configStores();

describe('a declared number column holding text', () => {
  it('JSON and CSV: numeric text is read as its number; other text is a load error naming file, row and column', async () => {
    const dir = await tempDir();
    const json = join(dir, 'a.json');
    const csv = join(dir, 'b.csv');
    await writeFile(json, '[{"id": 1, "price": 3}, {"id": 2, "price": "3.5"}, {"id": 3, "price": " 7 "}, {"id": 4, "price": null}]');
    await writeFile(csv, 'id,price\n1,3\n2,3.5\n3, 7 \n4,\n');
    for (const [file, format] of [[json, 'json'], [csv, 'csv']] as const) {
      const t = await loadDatasetFile('a', file, format, 'id', { price: 'number' });
      expect(Array.from({ length: t.length }, (_, i) => valueAt(t.column('price'), i))).toEqual([3, 3.5, 7, null]);
    }

    await writeFile(json, '[{"id": 1, "price": 3}, {"id": 2, "price": "abc"}]');
    await expect(loadDatasetFile('a', json, 'json', 'id', { price: 'number' })).rejects.toThrow(
      `dataset 'a': cannot decode ${json} as json: column 'price' is declared number, but row 2 holds "abc"`,
    );
    await writeFile(json, '[{"id": 1, "n": "2.5"}]');
    await expect(loadDatasetFile('a', json, 'json', 'id', { n: 'integer' })).rejects.toThrow("column 'n' is declared integer, but row 1 holds \"2.5\"");
    await writeFile(json, '[{"id": 1, "n": [1]}]');
    await expect(loadDatasetFile('a', json, 'json', 'id', { n: 'number' })).rejects.toThrow("column 'n' is declared number, but row 1 holds [1]");
    await writeFile(csv, 'id,price\n1,3\n2,abc\n');
    await expect(loadDatasetFile('b', csv, 'csv', 'id', { price: 'number' })).rejects.toThrow("column 'price' is declared number, but row 3 holds \"abc\"");
  });

  it('JSON: a column declared string reads numbers and booleans as their text, and refuses a whole number JSON has already rounded', async () => {
    const dir = await tempDir();
    const json = join(dir, 'ids.json');
    await writeFile(json, '[{"sku": 123, "f": true}, {"sku": "456", "f": false}, {"sku": 1.5, "f": null}, {"sku": null, "f": "x"}]');
    const t = await loadDatasetFile('ids', json, 'json', 'sku', { sku: 'string', f: 'string' });
    const col = (c: string): unknown[] => Array.from({ length: t.length }, (_, i) => valueAt(t.column(c), i));
    expect(col('sku')).toEqual(['123', '456', '1.5', null]);
    expect(col('f')).toEqual(['true', 'false', null, 'x']);
    await writeFile(json, '[{"sku": "1"}, {"sku": 9007199254740993}]');
    await expect(loadDatasetFile('ids', json, 'json', 'sku', { sku: 'string' })).rejects.toThrow(
      "column 'sku' is declared string, but row 2 holds the number 9007199254740992, past 2^53: JSON has already rounded it; write it as a JSON string",
    );
  });

  it('Arrow: a declaration that the file types disagree with is a load error naming the column; one that agrees loads', async () => {
    const dir = await tempDir();
    const file = join(dir, 'a.arrow');
    await writeFile(file, tableToIPC(tableFromArrays({ sku: Int32Array.from([1, 2]), name: ['a', 'b'], price: Float64Array.from([1.5, NaN]) }), 'file'));
    await expect(loadDatasetFile('a', file, 'arrow', 'sku', { sku: 'string' })).rejects.toThrow(
      "column 'sku' is declared string, but the Arrow file holds it as numbers (an Arrow file's types are its own: change the declaration or write the column as utf8)",
    );
    await expect(loadDatasetFile('a', file, 'arrow', 'sku', { name: 'number' })).rejects.toThrow("column 'name' is declared number, but the Arrow file holds it as text");
    const t = await loadDatasetFile('a', file, 'arrow', 'sku', { sku: 'integer', price: 'number', name: 'string', absent: 'string' });
    expect(valueAt(t.column('price'), 0)).toBe(1.5);
  });

  it('a hot reload to text in the column is rejected and the last good table keeps serving', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'data'));
    const file = join(dir, 'data', 'a.json');
    await writeFile(file, '[{"id": 1, "price": "3.5"}]');
    await writeFile(
      join(dir, 'p.yaml'),
      'datasets:\n  a: {path: data/a.json, key: id, columns: {price: number}}\n' +
        'pipeline: {name: p, item_type: id, items: a, initialization: {includes: [{name: Lookup, parameters: {dataset: a}}]}}\n',
    );
    const store = open(dir);
    expect(await store.start()).toEqual([]);
    store.watch(50);
    expect(valueAt(store.snapshot.datasets.get('a')!.column('price'), 0)).toBe(3.5);
    await writeFile(file, '[{"id": 1, "price": 4}, {"id": 2, "price": "abc"}]');
    await until(() => store.allRejections().length > 0, 'the text in a number column is rejected', 5000);
    const messages = store.allRejections().flatMap((r) => r.diagnostics.map((d) => d.message));
    expect(messages.some((m) => m.includes("column 'price' is declared number, but row 2 holds \"abc\""))).toBe(true);
    expect(store.snapshot.datasets.get('a')!.length).toBe(1);
    expect(valueAt(store.snapshot.datasets.get('a')!.column('price'), 0)).toBe(3.5);
  });
});
