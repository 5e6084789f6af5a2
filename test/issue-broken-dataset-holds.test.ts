/**
 * Issue: while one local dataset file was broken (its last good table serving, its rejection on
 * GET /pipelines), every other change was refused with its errors: an edited second dataset kept
 * serving its old rows, an edited pipeline file was rejected, and a good and a broken dataset
 * written together were both refused. Every load read the broken file again. Now a served dataset
 * whose file fails to load keeps its table in loads that do not propose that file (as a rejected
 * config file keeps its last good text); the file's own change stays rejected until it is fixed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configStores, tempDir, until } from './helpers.js';

const open = configStores();
const DEFS = 'datasets:\n  items: {path: data/items.json, key: id}\n  links: {path: data/links.csv, key: id}\n';
const P = (extra = '') => `pipeline: {name: p, item_type: id, items: items, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}${extra}}\n`;
const Q = 'pipeline: {name: q, item_type: id, items: links, initialization: {includes: [{name: Lookup, parameters: {dataset: links}}]}}\n';

describe('one broken dataset file among several', () => {
  it('does not refuse edits of other datasets and configs, and its own rejection stays until it is fixed', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'data'));
    const items = join(dir, 'data', 'items.json');
    const links = join(dir, 'data', 'links.csv');
    await writeFile(items, '[{"id": 1}, {"id": 2}]');
    await writeFile(links, 'id\n10\n');
    await writeFile(join(dir, 'defs.yaml'), DEFS);
    await writeFile(join(dir, 'p.yaml'), P());
    await writeFile(join(dir, 'q.yaml'), Q);
    const store = open(dir);
    try {
      expect(await store.start()).toEqual([]);
      store.watch(50);
      const version = (name: string): string => store.snapshot.pipelines.get(name)!.version;
      const p0 = version('p');

      await writeFile(items, '[{"id": 1}, {"id": ');
      await until(() => store.allRejections().length > 0, 'the broken items file is rejected', 5000);
      expect(store.snapshot.datasets.get('items')!.length).toBe(2);

      // Another dataset edited: served, with the broken one still on its last good table.
      await writeFile(links, 'id\n10\n11\n12\n');
      await until(() => store.snapshot.datasets.get('links')!.length === 3, 'the edited links file is served', 5000);
      expect(store.snapshot.datasets.get('items')!.length).toBe(2);
      expect(version('p')).toBe(p0);

      // A config edited: applied.
      await writeFile(join(dir, 'p.yaml'), P(', operations: [{name: Limit, parameters: {n: 5}}]'));
      await until(() => version('p') !== p0, 'the edited pipeline file is applied', 5000).catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(store.allRejections().map((r) => r.diagnostics.map((d) => d.message)))}`); });
      expect(store.allRejections().flatMap((r) => r.files)).toContain(items);

      // A good items file and a broken links file together: the good one is served.
      await writeFile(items, '[{"id": 1}, {"id": 2}, {"id": 3}]');
      await writeFile(links, 'id\n"10\n');
      await until(() => store.snapshot.datasets.get('items')!.length === 3, 'the fixed items file is served', 5000);
      expect(store.snapshot.datasets.get('links')!.length).toBe(3);
      await until(() => store.allRejections().flatMap((r) => r.files).includes(links), 'the broken links file is rejected', 5000);
      expect(store.allRejections().flatMap((r) => r.files)).not.toContain(items);
    } finally {
      await store.close();
    }
  }, 30_000);
});
