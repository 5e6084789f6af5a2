/**
 * Regression: only operator files that had loaded were watched. A file added to an `operator_paths`
 * folder, or one that had failed to load and was then fixed, was never imported until some config
 * file was edited, and a pipeline rejected for naming the missing operator stayed rejected: the
 * author fixed the operator and the server kept answering 404. The folders are now watched too, and
 * after an operator change applies, configs rejected earlier are tried again.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { server, tempDir, until } from './helpers.js';

const source = (name: string, ids: number[]): string => `export const op = {
  kind: 'source', name: '${name}', summary: 'fixed ids', parameters: { type: 'object' },
  run: () => ({ ids: ${JSON.stringify(ids)} }),
};
`;

describe('an operator folder is watched for new and fixed files', () => {
  it('a pipeline rejected for an operator that did not exist yet serves once its file is added', async () => {
    const home = await tempDir('airmail-newop-');
    await mkdir(join(home, 'ops'));
    await mkdir(join(home, 'configs'));
    await writeFile(join(home, 'ops', 'a.js'), source('A', [1]));
    await writeFile(join(home, 'configs', 'defs.yaml'), 'operator_paths: [../ops]\n');
    await writeFile(join(home, 'configs', 'a.yaml'), 'pipeline:\n  name: a\n  item_type: id\n  initialization: {includes: [A]}\n');
    const srv = await server({ configs: join(home, 'configs'), operators: [], operatorModules: [], threads: 1, watch: true, reloadSettleMs: 20 });
    try {
      expect(srv.startErrors).toEqual([]);
      const run = async (name: string): Promise<{ status: number; ids?: unknown[] }> => {
        const r = await request(`${srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
        const body = (await r.body.json()) as { items?: { id: unknown }[] };
        return { status: r.statusCode, ...(body.items ? { ids: body.items.map((i) => i.id) } : {}) };
      };
      await writeFile(join(home, 'configs', 'b.yaml'), 'pipeline:\n  name: b\n  item_type: id\n  initialization: {includes: [B]}\n');
      await until(async () => ((await (await request(`${srv.url}/pipelines`)).body.json()) as { rejections: unknown[] }).rejections.length > 0, 'b.yaml rejected');
      expect((await run('b')).status).toBe(404);

      // A broken new file: a rejection naming it; what serves stays.
      await writeFile(join(home, 'ops', 'b.js'), `${source('B', [2, 3])}export const x = ;\n`);
      await new Promise((r) => setTimeout(r, 1500));
      expect((await run('b')).status).toBe(404);
      expect(await run('a')).toEqual({ status: 200, ids: [1] });

      // Fixed: b loads without b.yaml being touched.
      await writeFile(join(home, 'ops', 'b.js'), source('B', [2, 3]));
      await until(async () => (await run('b')).status === 200, 'pipeline b to serve', 5000);
      expect(await run('b')).toEqual({ status: 200, ids: [2, 3] });
      expect(await run('a')).toEqual({ status: 200, ids: [1] });
    } finally {
      await srv.close();
    }
  }, 60_000);
});
