/**
 * Issue: a JSON dataset kept at the top of the configs directory in its other documented shape,
 * `{"rows": [...]}`, was read as a config: rejected at start ("'rows' is not a known property"),
 * and on every later edit, so the edited rows were never served (the last good table kept
 * serving, whatever the file said). Only a top-level array counted as data. An object holding its
 * rows under `rows` is data too, whatever the order of its keys; a real config never has `rows`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configStores, tempDir, until } from './helpers.js';

const open = configStores();
const PIPELINE = 'datasets:\n  items: {path: items.json, key: id, columns: {id: integer, w: number}}\npipeline: {name: p, item_type: id, items: items, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}\n';
const rows = (n: number): { id: number; w: number }[] => Array.from({ length: n }, (_, i) => ({ id: i + 1, w: i }));

describe('a top-level JSON dataset written as {"rows": [...]}', () => {
  it('is data, not a broken config, and its edits are served', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'items.json'), JSON.stringify({ rows: rows(3) }));
    await writeFile(join(dir, 'p.yaml'), PIPELINE);
    const store = open(dir);
    expect(await store.start()).toEqual([]);
    expect(store.allRejections()).toEqual([]);
    expect(store.snapshot.datasets.get('items')!.length).toBe(3);
    store.watch(50);
    // Rewritten with other rows, then emptied, then with `rows` not the first key.
    for (const [text, n] of [[JSON.stringify({ rows: rows(5) }, null, 2), 5], ['{"rows": []}', 0], [JSON.stringify({ source: 'export', rows: rows(7) }), 7]] as const) {
      await writeFile(join(dir, 'items.json'), text);
      await until(() => store.snapshot.datasets.get('items')!.length === n, `the dataset has ${n} rows`, 5000);
      expect(store.allRejections()).toEqual([]);
    }
  });
});
