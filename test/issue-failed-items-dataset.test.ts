/**
 * A pipeline whose items dataset failed to load was told besides that its Hydrate step had "no
 * items dataset; name one with dataset:" (the user's config named one, or the one keyed by the item
 * type existed): a second problem that sent them looking in the wrong place. Now `items:` naming a
 * dataset that failed to load is the pipeline's one problem until it loads, and where the items
 * dataset would have been the one keyed by the item type, a step that needs it says which dataset
 * failed (as it says which ones are ambiguous); a pipeline that hydrates nothing still serves.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configStores, tempDir } from './helpers.js';

const open = configStores();

async function dirWith(pipelines: string): Promise<string> {
  const dir = await tempDir();
  await mkdir(join(dir, 'data'));
  await writeFile(join(dir, 'data', 'catalog.json'), '[{"sku_id": 1, "dept": "a"');
  await writeFile(join(dir, 'data', 'shelf.json'), '[{"sku_id": 1, "dept": "a"}]');
  await writeFile(join(dir, 'data.yaml'), 'datasets:\n  catalog: {path: data/catalog.json, key: sku_id}\n  shelf: {path: data/shelf.json}\n');
  await writeFile(join(dir, 'p.yaml'), pipelines);
  return dir;
}

const STEPS = `  initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}]}
  operations: [{name: Hydrate, parameters: {columns: [dept]}}]
`;

describe('a pipeline whose items dataset failed to load', () => {
  it('items: naming it is its one problem', async () => {
    const store = open(await dirWith(`pipeline:\n  name: p\n  item_type: sku_id\n  items: catalog\n${STEPS}`));
    const problems = (await store.start()).filter((d) => d.file?.endsWith('p.yaml'));
    expect(problems.map((d) => [d.code, d.pointer])).toEqual([['UNKNOWN_DATASET', '/pipeline/items']]);
    expect(problems[0]!.message).toContain("items names dataset 'catalog', which failed to load");
    expect(problems[0]!.message).toContain("the pipeline's steps are checked once it loads");
  });

  it('the dataset keyed by the item type: a step that needs it says that one failed to load', async () => {
    const store = open(await dirWith(`pipeline:\n  name: p\n  item_type: sku_id\n${STEPS}`));
    const problems = (await store.start()).filter((d) => d.file?.endsWith('p.yaml'));
    expect(problems.map((d) => d.code)).toEqual(['BAD_PARAMETER']);
    expect(problems[0]!.message).toContain("dataset 'catalog', keyed by 'sku_id', would be its items dataset but failed to load");
  });

  it('a pipeline that hydrates nothing still serves', async () => {
    const store = open(await dirWith(`pipeline:\n  name: p\n  item_type: sku_id\n  initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}]}\n`));
    const problems = (await store.start()).filter((d) => d.file?.endsWith('p.yaml'));
    expect(problems).toEqual([]);
    expect(store.snapshot.pipelines.has('p')).toBe(true);
  });
});
