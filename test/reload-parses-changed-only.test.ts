/**
 * Issue: with 200 pipeline files, one edited file made the reload parse all 200 again (YAML
 * parsing was most of what an edit cost before it was served). A reload now parses only the files
 * whose text changed; an edited shared preset moves the versions of its users only.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configStores, tempDir } from './helpers.js';

const open = configStores();
const N = 30;
const pipeline = (i: number, n: number): string =>
  `pipeline:\n  name: p${i}\n  item_type: id\n  items: items\n  initialization:\n    includes: [${i % 2 === 0 ? 'Even' : 'Odd'}]\n  operations:\n  - {name: Limit, parameters: {n: ${n}}}\n`;
const presets = (evenValue: number): string =>
  `operators:\n  Even: {use: Lookup, parameters: {dataset: items, where: {g: ${evenValue}}}}\n  Odd: {use: Lookup, parameters: {dataset: items, where: {g: 1}}}\n`;

async function setUp(): Promise<{ dir: string; store: ReturnType<typeof open> }> {
  const dir = await tempDir();
  await writeFile(join(dir, 'items.json'), JSON.stringify([{ id: 1, g: 0 }, { id: 2, g: 1 }, { id: 3, g: 2 }]));
  await writeFile(join(dir, 'data.yaml'), 'datasets:\n  items: {path: items.json, key: id}\n');
  await writeFile(join(dir, 'presets.yaml'), presets(0));
  for (let i = 0; i < N; i++) await writeFile(join(dir, `p${i}.yaml`), pipeline(i, 1));
  const store = open(dir);
  expect(await store.start()).toEqual([]);
  return { dir, store };
}

const versions = (store: ReturnType<typeof open>): Map<string, string> => new Map([...store.snapshot.pipelines].map(([n, p]) => [n, p.version]));

describe('a reload parses what changed', () => {
  it('one edited pipeline file of 30: one file parsed, one version moved', async () => {
    const { dir, store } = await setUp();
    const before = versions(store);
    const parsed = store.parseCache.parsed;
    await writeFile(join(dir, 'p7.yaml'), pipeline(7, 2));
    expect(await store.rescan()).toEqual([]);
    expect(store.parseCache.parsed - parsed).toBe(1);
    const after = versions(store);
    expect([...after].filter(([n, v]) => before.get(n) !== v).map(([n]) => n)).toEqual(['p7']);
    // A second edit of the same file, and back to its first text: still one parse each at most.
    await writeFile(join(dir, 'p7.yaml'), pipeline(7, 3));
    await store.rescan();
    expect(store.parseCache.parsed - parsed).toBe(2);
    await writeFile(join(dir, 'p7.yaml'), pipeline(7, 1));
    await store.rescan();
    expect(versions(store).get('p7')).toBe(before.get('p7'));
  });

  it('an edited shared preset moves its users only, and a cached text is not shared with what a load changes', async () => {
    const { dir, store } = await setUp();
    const before = versions(store);
    await writeFile(join(dir, 'presets.yaml'), presets(2));
    expect(await store.rescan()).toEqual([]);
    const moved = [...versions(store)].filter(([n, v]) => before.get(n) !== v).map(([n]) => n).sort();
    expect(moved).toEqual(Array.from({ length: N / 2 }, (_, k) => `p${2 * k}`).sort());
    // The snapshot's presets came from a cached parse: changing them must not change the cache.
    const preset = store.snapshot.presets.get('Even') as unknown as { parameters: { where: { g: number } } };
    preset.parameters.where.g = 99;
    await writeFile(join(dir, 'p1.yaml'), pipeline(1, 2));
    expect(await store.rescan()).toEqual([]);
    expect((store.snapshot.presets.get('Even') as unknown as { parameters: { where: { g: number } } }).parameters.where.g).toBe(2);
  });
});
