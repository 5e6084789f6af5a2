/**
 * The configs directory as the store reads it (new-user audit): JSON data at
 * the top is not a config, a rejection goes when its file goes, an emptied
 * file says so, an edited dataset file is read again, and a missing
 * directory fails the start instead of being created.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configStores, demoConfigs, tempDir } from './helpers.js';

const open = configStores();

/** The warnings emitted while `fn` runs (process 'warning' events are delivered on a later tick). */
async function warnings<T>(fn: () => Promise<T>): Promise<{ value: T; messages: string[] }> {
  const messages: string[] = [];
  const on = (w: Error): void => void messages.push(w.message);
  process.on('warning', on);
  try {
    const value = await fn();
    await new Promise((r) => setImmediate(r));
    return { value, messages };
  } finally {
    process.off('warning', on);
  }
}

const ITEMS = (n: number): string => JSON.stringify(Array.from({ length: n }, (_, i) => ({ id: i + 1, w: i })));
const PIPELINE = 'datasets:\n  items: {path: items.json, key: id}\npipeline: {name: p, item_type: id, items: items, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}\n';

describe('which files of the configs directory are configs', () => {
  it('a top-level JSON array beside the configs is data (a dataset may read it), not a broken config', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'items.json'), ITEMS(3));
    await writeFile(join(dir, 'p.yaml'), PIPELINE);
    await writeFile(join(dir, 'q.json'), '{"pipeline": {"name": "q", "item_type": "id", "items": "items", "initialization": {"includes": [{"name": "Lookup", "parameters": {"dataset": "items"}}]}}}');
    const store = open(dir);
    expect(await store.start()).toEqual([]);
    expect([...store.snapshot.pipelines.keys()].sort()).toEqual(['p', 'q']);
    expect(store.allRejections()).toEqual([]);
  });

  it('a missing configs directory fails the start and is not created', async () => {
    const dir = join(await tempDir(), 'no-such-dir');
    await expect(open(dir).start()).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('does not exist') });
    expect(existsSync(dir)).toBe(false);
  });
});

describe('rejections say what is true', () => {
  it('at startup a broken file is "not served" (there is no last good version), and its rejection goes when the file does', async () => {
    const dir = await demoConfigs();
    await writeFile(join(dir, 'broken.yaml'), 'pipeline: {name: broken, item_type: sku_id, initialization: {includes: [NoSuchThing]}}\n');
    const store = open(dir);
    // The store raises no Node warning: serve logs "not served" as a JSON line (test/observe-start-log.test.ts),
    // run and validate print the problems.
    const { value, messages } = await warnings(() => store.start());
    expect(value.map((d) => d.code)).toEqual(['UNKNOWN_OPERATOR']);
    expect(messages).toEqual([]);
    expect(store.allRejections()).toHaveLength(1);
    await rm(join(dir, 'broken.yaml'));
    await store.rescan();
    expect(store.allRejections()).toEqual([]);
  });

  it('an emptied file replaces its stale problems with "the file is empty", and its last good version keeps serving', async () => {
    const dir = await demoConfigs();
    const store = open(dir);
    expect(await store.start()).toEqual([]);
    const file = join(dir, 'my_pipeline.yaml');
    const version = store.snapshot.pipelines.get('MyPipeline')!.version;
    await writeFile(file, 'pipeline: [\n');
    await warnings(() => store.rescan());
    expect(store.rejectionFor(file)?.diagnostics[0]?.code).toBe('CONFIG_SYNTAX');
    await writeFile(file, '');
    await warnings(() => store.rescan());
    expect(store.rejectionFor(file)?.diagnostics).toEqual([{ code: 'CONFIG_INVALID', file, message: expect.stringContaining('the file is empty') }]);
    expect(store.allRejections()).toHaveLength(1);
    expect(store.snapshot.pipelines.get('MyPipeline')?.version).toBe(version);
  });
});

describe('dataset files', () => {
  it('an edited dataset file is read again without any config changing', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'items.json'), ITEMS(3));
    await writeFile(join(dir, 'p.yaml'), PIPELINE);
    const store = open(dir);
    expect(await store.start()).toEqual([]);
    expect(store.snapshot.datasets.get('items')?.length).toBe(3);
    expect(await store.rescan()).toEqual([]);
    await writeFile(join(dir, 'items.json'), ITEMS(5));
    expect(await store.rescan()).toEqual([]);
    expect(store.snapshot.datasets.get('items')?.length).toBe(5);
    expect(await readFile(join(dir, 'p.yaml'), 'utf8')).toBe(PIPELINE);
  });
});

describe('a file rejected with the set it came in', () => {
  it('is proposed again once the other files are fixed, without being edited itself', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'items.json'), ITEMS(3));
    // p reads a column it does not fetch (w), so it needs an items dataset to hydrate it from.
    const p = (items: string): string => `datasets:\n  items: {path: items.json, key: id}\npipeline: {name: p, item_type: id, ${items}initialization: {includes: [{name: Static, parameters: {items: [1]}}]}, return: [id, w]}\n`;
    await writeFile(join(dir, 'p.yaml'), p(''));
    const store = open(dir);
    expect(await store.start()).toEqual([]);
    // A second dataset keyed by the item type: p's items dataset is ambiguous now, so the set is refused.
    await writeFile(join(dir, 'new.yaml'), 'datasets:\n  stock2: {path: items.json, key: id}\npipeline: {name: newp, item_type: id, items: stock2, initialization: {includes: [{name: Lookup, parameters: {dataset: stock2}}]}}\n');
    expect((await store.rescan()).length).toBeGreaterThan(0);
    expect([...store.snapshot.pipelines.keys()]).toEqual(['p']);
    // p names its items dataset: p applies, and new.yaml (unchanged) comes in with it.
    await writeFile(join(dir, 'p.yaml'), p('items: items, '));
    await store.rescan();
    expect([...store.snapshot.pipelines.keys()].sort()).toEqual(['newp', 'p']);
    expect(store.allRejections()).toEqual([]);
  });
});

describe('pipeline versions', () => {
  it('the same configs mounted at two paths get the same versions (the model path went in absolute; replicas and caches compare versions)', async () => {
    const versions = async (dir: string): Promise<Record<string, string>> => {
      const store = open(dir);
      expect(await store.start()).toEqual([]);
      return Object.fromEntries([...store.snapshot.pipelines].map(([name, p]) => [name, p.version]));
    };
    const a = await versions(await demoConfigs());
    const b = await versions(await demoConfigs());
    expect(Object.keys(a)).toContain('complimentary_items');
    expect(b).toEqual(a);
  });
});
