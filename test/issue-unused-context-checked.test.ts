/**
 * Issue: a shared context (file-level `contexts:`) that no pipeline used was never checked, so a
 * misspelt dataset or column in it loaded in silence and surfaced at its first use, maybe weeks
 * later; and `dataset: $x` in a context got "no config defines '$x'" where a reference in an
 * operator's fixed parameter gets "write it in the config". Now every shared context is checked
 * where it is defined, as unused presets are (preset-check.ts): the file is rejected at startup,
 * on hot reload, by `airmail validate` and by POST /validate alike, and a used one's problem is
 * said once.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { airmailCli, configStores, server, tempDir, until } from './helpers.js';

const open = configStores();
const DATA = JSON.stringify([{ id: 1, size: 'M' }]);
const PIPELINE = 'pipeline: {name: p, item_type: id, items: items, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}\n';
const SHARED = (contexts: string): string => `datasets:\n  items: {path: items.json, key: id}\ncontexts:\n${contexts}`;
const BAD = '  typo: {dataset: itemz, key: $cid}\n  col: {dataset: items, key: $cid, column: sizee}\n  asked: {dataset: $ds, key: $cid}\n';
const FIXED = "context 'asked': $ds: 'dataset' names a dataset, which is checked when the config loads, so a request input cannot choose it: write it in the config (to choose per request, write one context for each)";
const EXPECTED = [
  { code: 'UNKNOWN_DATASET', line: 4, pointer: '/contexts/typo/dataset', message: "context 'typo' names dataset 'itemz', which no config defines (did you mean 'items'?)" },
  { code: 'UNKNOWN_COLUMN', line: 5, pointer: '/contexts/col/column', message: "context 'col': dataset 'items' has no column 'sizee'" },
  { code: 'BAD_PARAMETER', line: 6, pointer: '/contexts/asked/dataset', message: FIXED },
];

async function world(contexts: string): Promise<string> {
  const dir = await tempDir();
  await writeFile(join(dir, 'items.json'), DATA);
  await writeFile(join(dir, 'shared.yaml'), SHARED(contexts));
  await writeFile(join(dir, 'p.yaml'), PIPELINE);
  return dir;
}

describe('shared contexts no pipeline uses', () => {
  it('are checked at startup, where they are defined, and on hot reload (the last good version keeps serving)', async () => {
    const dir = await world(BAD);
    const problems = (await open(dir).start()).map((d) => ({ code: d.code, line: d.line, pointer: d.pointer, message: d.message, file: d.file }));
    // (Its rejected file's datasets are not served, so p.yaml is refused too: not the point here.)
    expect(problems.filter((d) => d.file?.endsWith('shared.yaml'))).toEqual(EXPECTED.map((e) => ({ ...e, file: join(dir, 'shared.yaml') })));

    const good = await world('  client: {dataset: items, key: $cid}\n');
    const store = open(good);
    expect(await store.start()).toEqual([]);
    store.watch(50);
    await writeFile(join(good, 'shared.yaml'), SHARED(BAD));
    await until(() => store.allRejections().length > 0, 'the broken shared context is rejected', 5000);
    expect(store.allRejections().flatMap((r) => r.diagnostics.map((d) => d.message))).toEqual(EXPECTED.map((e) => e.message));
    expect(store.snapshot.pipelines.has('p')).toBe(true);
  });

  it('a used one with `dataset: $x` says "write it in the config", once', async () => {
    const dir = await world('  asked: {dataset: $ds, key: $cid}\n');
    await writeFile(join(dir, 'p.yaml'), PIPELINE.replace('{dataset: items}', '{dataset: items, where: {size: $asked.size}}'));
    const messages = (await open(dir).start()).map((d) => d.message);
    expect(messages.filter((m) => m === FIXED)).toHaveLength(1);
  });

  it('airmail validate and POST /validate report the same', async () => {
    const dir = await world(BAD);
    const cli = await airmailCli({}, 'validate', '--configs', dir, join(dir, 'shared.yaml'));
    expect(cli.code).toBe(1);
    for (const e of EXPECTED) expect(cli.stderr).toContain(`shared.yaml:${e.line}:`);
    expect(cli.stderr).toContain(FIXED);

    const good = await world('  client: {dataset: items, key: $cid}\n');
    const srv = await server({ configs: good, adminToken: 't', threads: 0, watch: false });
    try {
      expect(srv.startErrors).toEqual([]);
      const res = await request(`${srv.url}/validate`, {
        method: 'POST',
        headers: { authorization: 'Bearer t', 'content-type': 'application/yaml' },
        body: `contexts:\n  typo: {dataset: itemz, key: $cid}\n${PIPELINE.replace('name: p', 'name: q')}`,
      });
      const json = (await res.body.json()) as { valid: boolean; errors: { code: string; message: string }[] };
      expect(json.valid).toBe(false);
      expect(json.errors.map((e) => e.message)).toContain(EXPECTED[0]!.message);
    } finally {
      await srv.close();
    }
  });
});
