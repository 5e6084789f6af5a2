/**
 * Issue: one cell that is no number in a CSV's quantity column ("lots" among 2,889 counts) makes the
 * column text, and a `Range` on it, brought along by a `Lookup` (`columns: [quantity]`), was refused as
 * "column 'quantity' (written by Lookup) holds text: no row can pass": neither the dataset nor the
 * value that made it text, though the same column read from the items dataset names both. A column a
 * step brings from a dataset it names is now typed with that dataset's values: the message names the
 * dataset and the first such value, so the bad cell can be found (grep "lots" stock.csv).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configStores, tempDir } from './helpers.js';

const open = configStores();

describe('a Range on a column a Lookup brought along, read as text', () => {
  it('names the dataset and the value that made the column text', async () => {
    const dir = await tempDir('airmail-lookup-text-');
    await writeFile(join(dir, 'books.csv'), 'isbn,title\n0306406152,Ñandú\n080442957X,夜\n');
    await writeFile(join(dir, 'stock.csv'), 'store,isbn,quantity\nS01,0306406152,3\nS01,080442957X,lots\nS02,0306406152,0\n');
    await writeFile(join(dir, 'shop.yaml'), `
datasets:
  books: {path: books.csv, key: isbn}
  stock: {path: stock.csv}
pipeline:
  name: in_stock
  item_type: isbn
  initialization:
    includes: [{name: Lookup, parameters: {dataset: stock, where: {store: $store}, columns: [quantity]}}]
  operations:
  - {name: Range, parameters: {column: quantity, min: 1}}
`);
    const diags = await open(dir).start();
    expect(diags.map((d) => `${d.line}: ${d.message} [${d.code}]`)).toEqual([
      `11: pipeline 'in_stock': Range: compares numbers, but column 'quantity' of dataset 'stock' (brought by Lookup) holds text (e.g. "lots"): no row can pass [BAD_PARAMETER]`,
    ]);
  });
});
