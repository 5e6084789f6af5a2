import { describe, expect, it } from 'vitest';
import { BARE_HONO_BODY, bareHonoApp, startBareHono } from './bare-hono.js';
import { runClosedLoop } from './generator.js';

describe('bare Hono floor', () => {
  it('answers the fixed body on GET and POST, and 400 on a non-JSON body', async () => {
    const app = bareHonoApp();
    const get = await app.request('/');
    expect(await get.json()).toEqual(BARE_HONO_BODY);
    const post = await app.request('/pipelines/x', { method: 'POST', body: '{"client_id":1}' });
    expect(post.status).toBe(200);
    expect(await post.json()).toEqual(BARE_HONO_BODY);
    const bad = await app.request('/', { method: 'POST', body: '{' });
    expect(bad.status).toBe(400);
  });

  it('runs in a child process that the generator can load and sample', async () => {
    const floor = await startBareHono(0);
    try {
      expect(floor.pid).not.toBe(process.pid);
      const r = await runClosedLoop({
        url: floor.url,
        makeRequest: () => ({ path: '/pipelines/x', body: '{"client_id":1}' }),
        check: (status, body) => status === 200 && (body as { pipeline?: string }).pipeline === 'bare-hono',
        concurrency: 4,
        durationS: 0.5,
        pid: floor.pid,
        sampleIntervalMs: 100,
      });
      expect(r.completed).toBeGreaterThan(0);
      expect(r.errorCount).toBe(0);
      if (process.platform === 'linux') {
        expect(r.server?.pid).toBe(floor.pid);
        expect(r.server?.peakRssMb).toBeGreaterThan(10);
        expect(r.server?.cpuPercent).toBeGreaterThan(0);
      }
    } finally {
      await floor.close();
      await floor.close();
    }
  });
});
