/**
 * Issue: `curl -d '{"client_id": 17}' .../pipelines/NAME`, the first thing a newcomer types, sends
 * Content-Type application/x-www-form-urlencoded; the 415 listed the accepted types but not that
 * curl had chosen the type. It now says how to send JSON with curl.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let srv: RunningServer;

beforeAll(async () => {
  const dir = await tempDir('airmail-curl-form-');
  await writeFile(join(dir, 'p.yaml'), 'pipeline: {name: fixed, item_type: id, initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}]}}\n');
  srv = await server({ configs: dir, threads: 1, watch: false });
});
afterAll(async () => srv?.close());

describe('a body sent as a form (curl -d without a content type)', () => {
  it('is a 415 that says how to send JSON', async () => {
    for (const path of ['/pipelines/fixed', '/execute']) {
      const r = await fetch(`http://127.0.0.1:${srv.port}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '{}' });
      expect(r.status).toBe(415);
      const body = (await r.json()) as { code: string; reason: string };
      expect(body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(body.reason).toContain("add -H 'content-type: application/json'");
    }
  });

  it('other types keep the plain message', async () => {
    const r = await fetch(`http://127.0.0.1:${srv.port}/pipelines/fixed`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(r.status).toBe(415);
    expect(((await r.json()) as { reason: string }).reason).not.toContain('curl');
  });
});
