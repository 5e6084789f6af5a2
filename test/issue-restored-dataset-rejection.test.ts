/**
 * Issue: a local dataset file removed (its last good table kept serving, and GET /pipelines said
 * "there is no file data/items.json"), then put back, was read again and served, but the rejection
 * stayed on GET /pipelines for good, naming no file (`files: []`): the removal pruned the file from
 * the rejection as if a config had gone, so its return could not clear it. A dataset file the
 * served configs read is not "gone" when removed: its rejection names it until it is back.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configStores, tempDir, until } from './helpers.js';

const open = configStores();
const PIPELINE = 'datasets:\n  items: {path: data/items.json, key: id}\npipeline: {name: p, item_type: id, items: items, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}\n';

describe('a dataset file removed, then put back', () => {
  it('is rejected while missing (naming the file), and the rejection goes once it is back', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'data'));
    const file = join(dir, 'data', 'items.json');
    await writeFile(file, '[{"id": 1}]');
    await writeFile(join(dir, 'p.yaml'), PIPELINE);
    const store = open(dir);
    try {
      expect(await store.start()).toEqual([]);
      store.watch(50);
      await rm(file);
      await until(() => store.allRejections().length > 0, 'the removal is rejected', 5000);
      // A later poll does not turn it into a rejection of no file.
      await new Promise((r) => setTimeout(r, 300));
      expect(store.allRejections().map((r) => r.files)).toEqual([[file]]);
      expect(store.snapshot.datasets.get('items')!.length).toBe(1);
      await writeFile(file, '[{"id": 1}, {"id": 2}]');
      await until(() => store.snapshot.datasets.get('items')!.length === 2, 'the restored file is served', 5000);
      expect(store.allRejections()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
