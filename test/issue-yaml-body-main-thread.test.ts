/**
 * A YAML body is parsed off the main thread once it is more than a few inputs. The YAML parser
 * takes microseconds a byte: a 990 KB body of inputs to a public run route held the main thread
 * 3.4 s, and every other request (`/health` included) waited. Now the main thread stays free, and
 * the parse thread's wait and time are bounded.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { YAML_OFFLOAD } from '../engine/http/yaml-offload.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer;
const defaults = { ...YAML_OFFLOAD };

beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), threads: 1, watch: false });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());
afterEach(() => Object.assign(YAML_OFFLOAD, defaults));

async function postYaml(path: string, body: string): Promise<{ status: number; headers: Record<string, unknown>; json: Record<string, unknown> }> {
  const res = await request(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body });
  return { status: res.statusCode, headers: res.headers, json: (await res.body.json()) as Record<string, unknown> };
}

/** ~400 KB of YAML: over a second of parsing on one thread, a small value. */
const heavy = `client_id: 17\nproduct_id: 42\nx: [${'1,'.repeat(200_000)}1]\n`;

describe('YAML bodies do not hold the main thread', () => {
  it('a 400 KB YAML body of inputs is answered while the event loop stays free', async () => {
    YAML_OFFLOAD.budgetMs = 60_000; // the budget is the next test's; on a crowded machine this parse can pass 5 s
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    const r = await postYaml('/pipelines/complimentary_items', heavy);
    h.disable();
    expect(r.status).toBe(422);
    expect(String(r.json['reason'])).toContain("'x' is not a known property");
    // In place the parse held the loop for over a second.
    expect(h.max / 1e6).toBeLessThan(500);
  });

  it('a parsed-elsewhere body gives the same answers as one parsed in place', async () => {
    const pad = `# ${'-'.repeat(3000)}\n`;
    const good = await postYaml('/pipelines/complimentary_items', `client_id: 17\nproduct_id: 42\n${pad}`);
    expect(good.status).toBe(200);
    expect(good.json['error']).toBe(false);
    const bad = await postYaml('/pipelines/complimentary_items', `client_id: [17\n${pad}`);
    expect(bad.status).toBe(400);
    expect(bad.json['code']).toBe('BODY_UNPARSABLE');
    const tagged = await postYaml('/pipelines/complimentary_items', `client_id: !!binary AQID\n${pad}`);
    expect(tagged.status).toBe(400);
    expect(String(tagged.json['reason'])).toContain('!!binary');
  });

  it('a body not parsed within the budget is a 413, and the parser serves the next one', async () => {
    YAML_OFFLOAD.budgetMs = 1;
    const r = await postYaml('/pipelines/complimentary_items', heavy);
    expect(r.status).toBe(413);
    expect(r.json['code']).toBe('BODY_TOO_LARGE');
    expect(String(r.json['reason'])).toContain('not parsed within 1 ms');
    Object.assign(YAML_OFFLOAD, defaults);
    const next = await postYaml('/pipelines/complimentary_items', `client_id: 17\nproduct_id: 42\n# ${'-'.repeat(3000)}\n`);
    expect(next.status).toBe(200);
  });

  it('past the parse queue a YAML body is a 503 OVERLOADED with Retry-After', async () => {
    YAML_OFFLOAD.maxQueue = 0;
    const r = await postYaml('/execute', `pipeline: {name: q}\n# ${'-'.repeat(3000)}\n`);
    expect(r.status).toBe(503);
    expect(r.json['code']).toBe('OVERLOADED');
    expect(r.headers['retry-after']).toBe('1');
  });
});
