/**
 * The 404 and 405 answers echoed the request's path or pipeline name whole: a 10,000-character name
 * in /pipelines/{name} gave a 10 KB 404, and its log line the same (15 KB each with Node's 16 KiB
 * header limit), while every other error answer cuts what it echoes. A name can be at most 128 characters
 * and a route is short, so the answer now shows the first 140 / 200 characters and '...'.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

const TOKEN = 'echo-token';
let srv: RunningServer;

beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), threads: 1, adminToken: TOKEN, watch: false });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());

const LONG = 'n'.repeat(10_000);

describe('a long path or name is echoed cut short', () => {
  it.each(([
    ['GET', `/pipelines/${LONG}`, 404],
    ['POST', `/pipelines/${LONG}`, 404],
    ['GET', `/pipelines/${LONG}/run`, 404],
    ['POST', `/pipelines/${LONG}/batch`, 404],
    ['DELETE', `/pipelines/${LONG}`, 404],
    ['POST', `/models/${LONG}/predict`, 404],
    ['GET', `/${LONG}`, 404],
    ['GET', `/models/${LONG}/predict`, 405],
  ] as [string, string, number][]).map(([method, path, status]) => [method, path.replace(LONG, '<10,000 n>'), status, path] as const))('%s %s answers %i in under 1 KB', async (method, _shown, status, path) => {
    const res = await request(`${srv.url}${path}`, { method: method as 'GET', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(method === 'POST' ? { body: '{}' } : {}) });
    const text = await res.body.text();
    expect(res.statusCode).toBe(status);
    expect(Buffer.byteLength(text)).toBeLessThan(1_000);
    expect(JSON.parse(text).reason).toContain('nnn...');
  });

  it('a name of the longest allowed length is still shown whole', async () => {
    const name = `p${'x'.repeat(127)}`;
    const res = await request(`${srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const body = (await res.body.json()) as { reason: string };
    expect(res.statusCode).toBe(404);
    expect(body.reason).toContain(`'${name}'`);
  });
});
