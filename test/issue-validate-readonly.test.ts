/**
 * `POST /validate` is the README's dry run of admin `POST /pipelines`: "a refusal has the same status".
 * On a configs folder the server cannot write (a read-only mount) the POST is a 409
 * CONFIGS_NOT_WRITABLE, but the dry run answered 200 {"valid": true}: it compiled and never asked
 * whether the write could happen. It now checks the folder as put() does, first, writing nothing.
 */
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { serveAsNobody } from './serve-as-nobody.js';

const pipeline = (name: string, color: string): string => [
  'pipeline:', `  name: ${name}`, '  item_type: sku_id', '  initialization:',
  `    includes: [{name: Lookup, parameters: {dataset: items, where: {color: ${color}}}}]`,
  '  return: [sku_id]', '',
].join('\n');

describe('POST /validate on a read-only configs folder', () => {
  let child: ChildProcess | undefined;
  let root: string | undefined;
  afterAll(async () => {
    child?.kill('SIGKILL');
    if (root) {
      await chmod(join(root, 'ro'), 0o755).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    }
  });

  it('answers the same 409 CONFIGS_NOT_WRITABLE as the POST it dry-runs, and writes nothing', async () => {
    root = await tempDir('airmail-validate-ro-');
    await chmod(root, 0o755);
    const ro = join(root, 'ro');
    const state = join(root, 'state');
    await mkdir(ro);
    await mkdir(state);
    await writeFile(join(ro, 'defs.yaml'), 'datasets:\n  items: {path: items.csv, key: sku_id}\n');
    await writeFile(join(ro, 'items.csv'), 'sku_id,color\n1,red\n2,blue\n');
    await writeFile(join(ro, 'reds.yaml'), pipeline('reds', 'red'));
    await chmod(ro, 0o555);
    const server = await serveAsNobody(ro, state, { threads: 1, env: { AIRMAIL_ADMIN_TOKEN: 'tok' } });
    child = server.child;
    const before = (await readdir(ro)).sort();

    // A new pipeline, an edit of a served one, and a body that would not compile: the POST refuses each
    // for the folder before it compiles, so the dry run must too.
    for (const body of [pipeline('posted', 'red'), pipeline('reds', 'blue'), pipeline('broken', 'red').replace('Lookup', 'Lookupp')]) {
      const dry = await fetch(`${server.url}/validate`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body });
      const real = await fetch(`${server.url}/pipelines`, { method: 'POST', headers: { authorization: 'Bearer tok', 'content-type': 'application/yaml' }, body });
      const d = (await dry.json()) as { valid: boolean; code: string; errors: unknown[] };
      const r = (await real.json()) as { code: string; errors: unknown[] };
      expect(real.status).toBe(409);
      expect(r.code).toBe('CONFIGS_NOT_WRITABLE');
      expect({ status: dry.status, code: d.code, errors: d.errors, valid: d.valid }).toEqual({ status: 409, code: r.code, errors: r.errors, valid: false });
    }
    expect((await readdir(ro)).sort()).toEqual(before);
  }, 60_000);
});
