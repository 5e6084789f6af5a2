/**
 * Issue: a local dataset file caught half-written was loaded and served. Config files must hold
 * still for the settle window before they are applied, but an edited dataset was read again at the
 * first poll that saw it move: a CSV being written (`cp` truncates, then writes; a job writing rows)
 * parses fine when cut at a row boundary, so the pipelines served its first rows only until the next
 * poll. A changed dataset file now waits for the same settle window; and, since a dataset in
 * `data/` is outside what the directory's watch hears, its stamp is checked every 100 ms so that
 * the edit still takes effect within a second (the 1 s poll plus the settle window would not).
 */
import { mkdir, open as openFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigStore } from '../engine/config-store.js';
import { OPS, tempDir } from './helpers.js';

const PIPELINE = [
  'datasets:',
  '  items: {path: data/items.csv, key: sku_id}',
  'pipeline:',
  '  name: p',
  '  item_type: sku_id',
  '  initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}',
  '',
].join('\n');

const csv = (n: number): string => `sku_id,s\n${Array.from({ length: n }, (_, i) => `${i + 1},${i % 7}`).join('\n')}\n`;

describe('issue: a dataset file caught half-written was served', () => {
  it('an edited CSV is read again only once it held still for the settle window', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'data', 'items.csv'), csv(10));
    await writeFile(join(dir, 'p.yaml'), PIPELINE);
    const store = new ConfigStore(dir, OPS, { settleMs: 600 });
    try {
      expect(await store.start()).toEqual([]);
      const lengths: number[] = [];
      store.onReload((e) => {
        if (e.kind === 'applied') lengths.push(store.snapshot.datasets.get('items')!.length);
      });
      store.watch(50);
      // Rewritten in place: 1,000 rows, a pause shorter than the settle window (the poll runs in
      // it), then the other 1,000.
      const full = csv(2000);
      const cut = full.indexOf('\n1001,') + 1;
      const fh = await openFile(join(dir, 'data', 'items.csv'), 'w');
      await fh.write(full.slice(0, cut));
      await fh.datasync();
      await new Promise((r) => setTimeout(r, 300));
      await fh.write(full.slice(cut));
      await fh.close();
      const t0 = Date.now();
      while (store.snapshot.datasets.get('items')!.length !== 2000 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
      expect(store.snapshot.datasets.get('items')!.length).toBe(2000);
      expect(lengths).toEqual([2000]);
    } finally {
      await store.close();
    }
  });

  it('an edited dataset in data/ takes effect within a second, without waiting for the poll', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'data', 'items.csv'), csv(10));
    await writeFile(join(dir, 'p.yaml'), PIPELINE);
    const store = new ConfigStore(dir, OPS);
    try {
      expect(await store.start()).toEqual([]);
      store.watch(60_000);
      await writeFile(join(dir, 'data', 'items.csv'), csv(20));
      const t0 = Date.now();
      while (store.snapshot.datasets.get('items')!.length !== 20 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
      expect(store.snapshot.datasets.get('items')!.length).toBe(20);
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      await store.close();
    }
  });
});
