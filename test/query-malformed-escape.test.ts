/**
 * A query string with a malformed %-escape (`%zz`, a lone `%`, `%C3%28`, which is no UTF-8) was
 * read as its literal text, so `?client_id=%zz` ran with the text "%zz" (or failed on a type that
 * named a value the client never sent). It is now a 400 QUERY_INVALID naming the part.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer;
beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), threads: 1, watch: false });
});
afterAll(async () => {
  await srv.close();
});

describe('GET /pipelines/{name}?... with a malformed escape', () => {
  it('is a 400 QUERY_INVALID naming the part; well-formed escapes still work', async () => {
    for (const q of ['client_id=%zz', 'client_id=17&x=50%', 'client_id=%C3%28']) {
      const r = await fetch(`${srv.url}/pipelines/MyPipeline?${q}`);
      expect(r.status, q).toBe(400);
      const body = (await r.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ error: true, code: 'QUERY_INVALID' });
      expect(String(body['reason'])).toContain('malformed %-escape');
    }
    const ok = await fetch(`${srv.url}/pipelines/MyPipeline?client_id=%31%37`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { error: boolean }).error).toBe(false);
  });
});
