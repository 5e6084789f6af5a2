/**
 * Issue: removing (or renaming to .bak) a file that other files need was refused, rightly, and
 * the last good version kept serving; but the refused removal was proposed again at every poll, a
 * `warn` line and a count in airmail_config_reloads_total{result="rejected"} each second, and when
 * the file was put back unchanged its rejection stayed in GET /pipelines (and every pipeline's
 * `last_rejection`) for good. A refused removal is now one rejection, retried after other changes
 * only, and dropped once the file is back.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ReloadEvent } from '../engine/config-store.js';
import { configStores, tempDir } from './helpers.js';

const open = configStores();

const BASE = 'operators:\n  Few: {use: Static, parameters: {items: [1, 2, 3]}}\n';
const USES = 'pipeline:\n  name: p\n  item_type: id\n  initialization: {includes: [Few]}\n';
const ALONE = 'pipeline:\n  name: p\n  item_type: id\n  initialization: {includes: [{name: Static, parameters: {items: [4]}}]}\n';

async function setUp(): Promise<{ dir: string; store: ReturnType<typeof open>; events: ReloadEvent[] }> {
  const dir = await tempDir();
  await writeFile(join(dir, 'base.yaml'), BASE);
  await writeFile(join(dir, 'p.yaml'), USES);
  const store = open(dir);
  expect(await store.start()).toEqual([]);
  const events: ReloadEvent[] = [];
  store.onReload((e) => events.push(e));
  return { dir, store, events };
}

describe('issue: a refused removal was rejected again every poll, and never cleared', () => {
  it('is one rejection, however many polls follow, and goes when the file is put back', async () => {
    const { dir, store, events } = await setUp();
    const version = store.status('p')!.version;
    await rename(join(dir, 'base.yaml'), join(dir, 'base.yaml.bak'));
    expect((await store.rescan()).length).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) await store.rescan();
    expect(events.map((e) => e.kind)).toEqual(['rejected']);
    expect(store.status('p')!.version).toBe(version);
    expect(store.allRejections()).toHaveLength(1);
    expect(store.rejectionFor(join(dir, 'base.yaml'))).toBeDefined();
    await rename(join(dir, 'base.yaml.bak'), join(dir, 'base.yaml'));
    expect(await store.rescan()).toEqual([]);
    expect(store.allRejections()).toEqual([]);
    expect(store.rejectionFor(join(dir, 'p.yaml'))).toBeUndefined();
    expect(store.status('p')!.version).toBe(version);
  });

  it('is tried again once the files that needed it change, and then applied', async () => {
    const { dir, store } = await setUp();
    await rm(join(dir, 'base.yaml'));
    expect((await store.rescan()).length).toBeGreaterThan(0);
    expect(store.snapshot.presets.has('Few')).toBe(true);
    await writeFile(join(dir, 'p.yaml'), ALONE);
    await store.rescan();
    expect(store.snapshot.presets.has('Few')).toBe(false);
    expect(store.allRejections()).toEqual([]);
  });
});
