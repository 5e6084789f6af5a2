/**
 * A dataset file edited again and again (a job rewriting the catalog every hour) must not keep
 * every version it was ever loaded at: the loaded tables were cached by content and never
 * released, so each edit kept a whole table for good. A table no served snapshot uses is dropped
 * once a new snapshot is in.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ConfigStore } from '../engine/config-store.js';
import { OPS, tempDir } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const ROWS = 40_000;
/** Version k of the catalog: ROWS rows, every weight different from any other version's. */
function catalog(k: number): string {
  return JSON.stringify(Array.from({ length: ROWS }, (_, i) => ({ id: i + 1, w: k * ROWS + i, name: `item ${i} v${k}` })));
}

describe('an edited dataset file', () => {
  it('does not keep the tables of its earlier versions', async () => {
    const dir = await tempDir('airmail-ds-edits-');
    await writeFile(join(dir, 'items.json'), catalog(0));
    await writeFile(join(dir, 'p.yaml'), 'datasets:\n  items: {path: items.json, key: id}\npipeline: {name: p, item_type: id, items: items, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}\n');
    const store = new ConfigStore(dir, OPS, { settleMs: 0 });
    try {
      expect(await store.start()).toEqual([]);
      const heap = (): number => {
        gc();
        gc();
        return process.memoryUsage().heapUsed;
      };
      const edit = async (k: number): Promise<void> => {
        await writeFile(join(dir, 'items.json'), catalog(k));
        expect(await store.rescan()).toEqual([]);
        expect(store.snapshot.datasets.get('items')?.length).toBe(ROWS);
      };
      for (let k = 1; k <= 3; k++) await edit(k);
      const before = heap();
      for (let k = 4; k <= 23; k++) await edit(k);
      const grown = heap() - before;
      // One table of these is ~1-2 MiB on the heap; 20 kept versions would be tens of MiB.
      expect(grown).toBeLessThan(8 * 1024 * 1024);
    } finally {
      await store.close();
    }
  });
});
