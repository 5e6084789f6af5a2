/**
 * What the configs directory may hold besides configs (adversarial audit):
 * a named pipe (FIFO) once stopped every reload and admin change and made
 * SIGTERM hang; now only regular files inside the directory are read, at
 * most MAX_CONFIG_BYTES each, and anything else is a rejection that says
 * why. Editor and writer temporary files are not configs at all.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConfigStore } from '../engine/config-store.js';
import { MAX_CONFIG_BYTES } from '../engine/config/dir.js';
import { configStores, demoConfigs, tempDir } from './helpers.js';

const open = configStores();

/** Runs `fn` with the store's warnings kept off the test output. */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const keep = process.listeners('warning');
  process.removeAllListeners('warning');
  const swallow = (): void => undefined;
  process.on('warning', swallow);
  try {
    const v = await fn();
    await new Promise((r) => setImmediate(r));
    return v;
  } finally {
    process.off('warning', swallow);
    for (const l of keep) process.on('warning', l);
  }
}

const extra = (name: string, n = 2): string => `pipeline:\n  name: ${name}\n  item_type: sku_id\n  initialization:\n    includes: [MatchClientSize]\n  operations: [{name: Limit, parameters: {n: ${n}}}]\n`;
const pipelineNames = (s: ConfigStore): string[] => [...s.snapshot.pipelines.keys()].sort();

describe('issue: a FIFO in the configs directory blocked reloads, admin changes and shutdown', () => {
  it('a named pipe is skipped with its reason; reloads, admin puts and close() go on', async () => {
    const dir = await demoConfigs();
    execFileSync('mkfifo', [join(dir, 'fifo.yaml')]);
    const store = open(dir);
    const diags = await quietly(() => store.start());
    expect(diags).toEqual([{ code: 'CONFIG_INVALID', file: join(dir, 'fifo.yaml'), message: expect.stringContaining('is a named pipe (FIFO); only regular files are read') }]);
    expect(pipelineNames(store)).toEqual(['MyPipeline', 'complimentary_items']);
    expect(store.rejectionFor(join(dir, 'fifo.yaml'))?.diagnostics[0]?.code).toBe('CONFIG_INVALID');
    // A new file is applied, and the unchanged pipe is not reported again.
    await writeFile(join(dir, 'extra.yaml'), extra('extra'));
    expect(await store.rescan()).toEqual([]);
    expect(pipelineNames(store)).toContain('extra');
    expect(await store.put('posted', extra('posted', 1))).toEqual([]);
    expect(pipelineNames(store)).toContain('posted');
    // Removing the pipe drops its rejection.
    await rm(join(dir, 'fifo.yaml'));
    await store.rescan();
    expect(store.allRejections()).toEqual([]);
    await store.close();
  });

  it('a loaded file replaced by a named pipe is a rejection: its last good version keeps serving', async () => {
    const dir = await demoConfigs();
    const store = open(dir);
    expect(await store.start()).toEqual([]);
    const file = join(dir, 'my_pipeline.yaml');
    const version = store.snapshot.pipelines.get('MyPipeline')!.version;
    await rm(file);
    execFileSync('mkfifo', [file]);
    const diags = await quietly(() => store.rescan());
    expect(diags.map((d) => d.message)).toEqual([expect.stringContaining('its last good version keeps serving')]);
    expect(store.snapshot.pipelines.get('MyPipeline')?.version).toBe(version);
  });

  it('a dataset path that is a named pipe fails to load instead of waiting for a writer', async () => {
    const dir = await tempDir();
    execFileSync('mkfifo', [join(dir, 'items.json.pipe')]);
    await writeFile(join(dir, 'p.yaml'), 'datasets:\n  items: {path: items.json.pipe, key: id, format: json}\npipeline: {name: p, item_type: id, items: items, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}\n');
    const diags = await quietly(() => open(dir).start());
    expect(diags[0]).toMatchObject({ code: 'DATASET_LOAD_FAILED', message: expect.stringContaining('not a regular file') });
  });
});

describe('only regular files inside the directory are configs', () => {
  it('a link out of the directory, a dangling link, a folder named like a config and an oversized file are each skipped with why; a link inside is followed', async () => {
    const outside = await tempDir();
    await writeFile(join(outside, 'secret.yaml'), extra('from_outside'));
    const dir = await demoConfigs();
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'sub', 'inner.yaml'), extra('inner'));
    await symlink(join(dir, 'sub', 'inner.yaml'), join(dir, 'linked.yaml'));
    await symlink(join(outside, 'secret.yaml'), join(dir, 'out.yaml'));
    await symlink(join(dir, 'nowhere.yaml'), join(dir, 'dangling.yaml'));
    await mkdir(join(dir, 'folder.yaml'));
    await writeFile(join(dir, 'huge.yaml'), `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n${extra('huge')}`);
    const store = open(dir);
    const diags = await quietly(() => store.start());
    const why = Object.fromEntries(diags.map((d) => [d.file?.slice(dir.length + 1), d.message]));
    expect(why).toEqual({
      'dangling.yaml': expect.stringContaining('a dangling link'),
      'folder.yaml': expect.stringContaining('is a directory'),
      'huge.yaml': expect.stringContaining(`larger than ${MAX_CONFIG_BYTES} bytes`),
      'out.yaml': expect.stringContaining('outside the configs directory'),
    });
    expect(pipelineNames(store)).toEqual(['MyPipeline', 'complimentary_items', 'inner']);
  });

  it("editors' and writers' temporary files are not configs: .foo.yaml.swp, foo.yaml~, .#foo.yaml, #foo.yaml#, foo.yaml.tmp", async () => {
    const dir = await demoConfigs();
    const half = 'pipeline:\n  name: MyPipeline\n  item_type: sku_id\n';
    for (const n of ['.my_pipeline.yaml.swp', 'my_pipeline.yaml~', '.#my_pipeline.yaml', '#my_pipeline.yaml#', 'my_pipeline.yaml.tmp', 'my_pipeline.yaml.123.tmp']) await writeFile(join(dir, n), half);
    const store = open(dir);
    expect(await store.start()).toEqual([]);
    expect(store.allRejections()).toEqual([]);
  });
});
