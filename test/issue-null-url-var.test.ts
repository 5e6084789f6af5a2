/**
 * An input used as an HttpSource / RedisSource `{var}` took JSON null (`{"w": null}`): the input
 * schema, derived from `vars`' parameter schema, allowed null, so the request passed and then
 * failed as SOURCE_FAILED (200, error: true) with "'{w}' has no value for this request". A
 * value the step can never use is the caller's mistake: a 422 INPUT_INVALID naming the input.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startUpstream, type Upstream } from '../engine/remote/upstream-fixture.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let upstream: Upstream;
let srv: RunningServer;
let dir: string;

beforeAll(async () => {
  upstream = await startUpstream({ handler: (u) => json([{ sku_id: Number(u.searchParams.get('w')) }]) });
  dir = await tempDir('airmail-null-var-');
  await writeFile(join(dir, 'p.yaml'), `
operators:
  Inv: {use: HttpSource, parameters: {url: '${upstream.url}/inv?w={w}', vars: {w: $w}, column: sku_id, retries: 0}}
  Keyed: {use: RedisSource, parameters: {key: 'k:{w}', type: set, vars: {w: $w}, url: 'redis://127.0.0.1:1', retries: 0}}
pipelines:
- {name: p, item_type: sku_id, initialization: {includes: [Inv]}, return: [sku_id]}
- {name: r, item_type: value, initialization: {includes: [Keyed]}}
`);
  srv = await server({ configs: dir, threads: 0, watch: false });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => {
  await srv?.close();
  await upstream?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const post = async (path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
  const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};

describe('an input used as a URL or key variable', () => {
  it.each(['/pipelines/p', '/pipelines/r'])('%s: null is a 422 INPUT_INVALID naming it, and nothing is fetched', async (path) => {
    upstream.reset();
    const r = await post(path, { w: null });
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({ error: true, code: 'INPUT_INVALID' });
    expect((r.json['errors'] as { path: string }[]).map((e) => e.path)).toEqual(['/w']);
    expect(String(r.json['reason'])).toMatch(/'w' must be .*, not null/);
    expect(upstream.calls.total).toBe(0);
  });

  it('a value still runs', async () => {
    expect((await post('/pipelines/p', { w: 7 })).json).toMatchObject({ items: [{ sku_id: 7 }] });
  });

  it('a literal null var is refused at load, where it is written', async () => {
    await writeFile(join(dir, 'lit.yaml'), `pipeline: {name: lit, item_type: sku_id, initialization: {includes: [{name: HttpSource, parameters: {url: '${upstream.url}/inv?w={w}', vars: {w: null}}}]}}\n`);
    try {
      const diags = await srv.engine.store.rescan();
      expect(diags).toContainEqual(expect.objectContaining({ code: 'BAD_PARAMETER', pointer: '/pipeline/initialization/includes/0/parameters/vars/w', line: 1 }));
      expect(srv.engine.snapshot.pipelines.has('lit')).toBe(false);
    } finally {
      await rm(join(dir, 'lit.yaml'));
      await srv.engine.store.rescan();
    }
  });
});
