/**
 * A token read from a secret file or a Kubernetes Secret often ends in a newline. A header value
 * cannot, and the presented token was trimmed while the configured one was not: every admin request
 * was a 401 with no hint why. The configured token is trimmed too; a blank one is no token.
 */
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { adminTokenOf } from '../engine/http/admin.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer | undefined;
afterEach(async () => {
  await srv?.close();
  srv = undefined;
});

const del = async (authorization?: string): Promise<number> => {
  const res = await request(`${srv!.url}/pipelines/no_such_pipeline`, { method: 'DELETE', headers: authorization ? { authorization } : {} });
  await res.body.text();
  return res.statusCode;
};

describe('the admin token', () => {
  it('configured with a trailing newline: the token itself is accepted, others are not', async () => {
    srv = await server({ configs: await demoConfigs(), threads: 0, watch: false, adminToken: 's3cret-token\n' });
    expect(await del('Bearer s3cret-token')).toBe(404); // past the auth check: there is no such pipeline
    expect(await del('Bearer s3cret-toke')).toBe(401);
    expect(await del('Bearer s3cret-token-and-more')).toBe(401);
    expect(await del()).toBe(401);
  });

  it('blank or whitespace only: admin routes are disabled', async () => {
    expect(adminTokenOf(' \n')).toBeUndefined();
    expect(adminTokenOf('')).toBeUndefined();
    expect(adminTokenOf(undefined)).toBeUndefined();
    srv = await server({ configs: await demoConfigs(), threads: 0, watch: false, adminToken: ' \n' });
    const res = await request(`${srv.url}/pipelines/no_such_pipeline`, { method: 'DELETE', headers: { authorization: 'Bearer  ' } });
    expect(res.statusCode).toBe(401);
    expect(((await res.body.json()) as { reason: string }).reason).toMatch(/admin routes are disabled/);
  });
});

describe('the registry\'s admin token', () => {
  it('configured with a trailing newline: the token itself is accepted, others are not', async () => {
    const { Hono } = await import('hono');
    const { adminAuth } = await import('../engine/registry/service.js');
    const app = new Hono();
    app.onError((err) => new Response((err as Error).message, { status: 401 }));
    app.put('/x', adminAuth('s3cret-token\n'), (c) => c.text('ok'));
    const put = async (authorization?: string): Promise<number> => (await app.request('/x', { method: 'PUT', headers: authorization ? { authorization } : {} })).status;
    expect(await put('Bearer s3cret-token')).toBe(200);
    expect(await put('Bearer s3cret-toke')).toBe(401);
    expect(await put()).toBe(401);
  });
});
