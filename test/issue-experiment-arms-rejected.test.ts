/**
 * Issue: an experiment whose every arm failed to load (a shared preset's model feature misspelt, so
 * both arms that use it are refused) crashed the config load: `airmail validate` printed
 * "Cannot read properties of undefined (reading 'plan') (unexpected: please report it)" instead of
 * the arms' own errors, and a hot edit that did it was neither applied nor rejected: no log line,
 * nothing under `rejections`, the user saw no sign of it. The arms' errors are now reported at their
 * definitions, the experiment says which arm failed to load (as a fallback does; at startup it said
 * "arm 'feed_v1' is no pipeline of the configs", though the arm was there), and the edit is a
 * rejection like any other.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ReloadEvent } from '../engine/config-store.js';
import { configStores, tempDir } from './helpers.js';

const open = configStores();
const ITEMS = JSON.stringify([{ sku_id: 1, pop: 0.1 }, { sku_id: 2, pop: 0.9 }]);
const shared = (column: string): string => `
datasets:
  items: {path: items.json, key: sku_id}
operators:
  Pop: {use: Column, parameters: {column: ${column}}}
`;
const ARMS = `
pipelines:
- name: feed_v1
  item_type: sku_id
  inputs: {client_id: {type: integer, default: 0}}
  initialization: {includes: [{name: Lookup, parameters: {dataset: items}}], scores: [Pop]}
- name: feed_v2
  item_type: sku_id
  inputs: {client_id: {type: integer}}
  initialization: {includes: [{name: Lookup, parameters: {dataset: items}}], scores: [Pop]}
  operations: [{name: Sort, parameters: {by: score, desc: true}}]
`;
const EXPERIMENT = `
experiments:
- name: home
  unit: $client_id
  default: feed_v1
  arms:
  - {pipeline: feed_v1, weight: 1}
  - {pipeline: feed_v2, weight: 1}
`;

async function world(column: string): Promise<string> {
  const dir = await tempDir('airmail-exp-arms-rejected-');
  await writeFile(join(dir, 'items.json'), ITEMS);
  await writeFile(join(dir, 'shared.yaml'), shared(column));
  await writeFile(join(dir, 'feeds.yaml'), ARMS);
  await writeFile(join(dir, 'experiment.yaml'), EXPERIMENT);
  return dir;
}

describe('an experiment whose every arm is refused', () => {
  it('at load: the arms’ own errors and which arms the experiment lost, not a crash', async () => {
    const dir = await world('popp');
    const diags = await open(dir).start();
    expect(diags.map((d) => `${d.file?.split('/').pop()}:${d.line}: ${d.message} [${d.code}]`)).toEqual([
      "feeds.yaml:6: pipeline 'feed_v1': Pop reads column 'popp', which no earlier step writes and the items dataset 'items' does not have (did you mean 'pop'?) [UNKNOWN_COLUMN]",
      "feeds.yaml:10: pipeline 'feed_v2': Pop reads column 'popp', which no earlier step writes and the items dataset 'items' does not have (did you mean 'pop'?) [UNKNOWN_COLUMN]",
      "experiment.yaml:7: experiment 'home': arm 'feed_v1' failed to load (see its errors), so the experiment cannot serve it [CONFIG_INVALID]",
      "experiment.yaml:8: experiment 'home': arm 'feed_v2' failed to load (see its errors), so the experiment cannot serve it [CONFIG_INVALID]",
    ]);
  });

  it('on a hot edit: a rejection with those errors, and the last good set keeps serving', async () => {
    const dir = await world('pop');
    const store = open(dir);
    expect(await store.start()).toEqual([]);
    const events: ReloadEvent[] = [];
    store.onReload((e) => events.push(e));
    await writeFile(join(dir, 'shared.yaml'), shared('popp'));
    await store.rescan();
    expect(events.map((e) => e.kind)).toEqual(['rejected']);
    expect(events[0]!.diagnostics!.map((d) => d.code)).toContain('UNKNOWN_COLUMN');
    expect(store.snapshot.experiments?.get('home')?.arms.map((a) => a.pipeline)).toEqual(['feed_v1', 'feed_v2']);
  });
});
