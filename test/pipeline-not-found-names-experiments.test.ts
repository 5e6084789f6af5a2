/**
 * Regression: a request to a pipeline name that is not loaded answered 404 listing the loaded
 * pipelines only ("loaded: home_feed_v1, home_feed_v2"), though experiments are served at
 * /pipelines/NAME too: a client that misspelt the experiment's name was shown every name but the
 * one it meant. The answer now lists the experiments as well and names the nearest of all.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { server, tempDir } from './helpers.js';

const arm = (name: string): string => `- name: ${name}\n  item_type: id\n  initialization:\n    includes: [{name: Static, parameters: {items: [1]}}]\n  operations: [{name: Limit, parameters: {n: $n}}]\n`;

describe('PIPELINE_NOT_FOUND', () => {
  it('lists the experiments beside the pipelines and names the nearest, by POST and GET', async () => {
    const dir = await tempDir('airmail-nf-');
    await writeFile(join(dir, 'p.yaml'), `pipelines:\n${arm('feed_v1')}${arm('feed_v2')}experiments:\n- name: home_feed\n  unit: $n\n  arms: [{pipeline: feed_v1, weight: 1}, {pipeline: feed_v2, weight: 1}]\n`);
    const srv = await server({ configs: dir, threads: 1 });
    try {
      expect(srv.startErrors).toEqual([]);
      for (const [method, path] of [['POST', '/pipelines/home_fed'], ['GET', '/pipelines/home_fed?n=1'], ['GET', '/pipelines/home_fed/run']] as const) {
        const r = await request(`${srv.url}${path}`, { method, ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{"n": 1}' } : {}) });
        const body = (await r.body.json()) as { code: string; reason: string };
        expect(r.statusCode, path).toBe(404);
        expect(body.code).toBe('PIPELINE_NOT_FOUND');
        expect(body.reason).toBe("no pipeline named 'home_fed' is loaded (did you mean 'home_feed'?) (loaded: feed_v1, feed_v2; experiments: home_feed)");
      }
    } finally {
      await srv.close();
    }
  }, 30_000);
});
