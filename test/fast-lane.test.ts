/**
 * The fast lane (engine/http/fast-lane.ts) answers plain pipeline runs before
 * the Hono app. It must give what the app gives: the same status, headers that
 * matter and body, for good and bad requests alike, and leave every other
 * request to the app.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { laneCounts } from '../engine/http/fast-lane.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let lane: RunningServer;
let app: RunningServer;

beforeAll(async () => {
  const dir = await demoConfigs();
  [lane, app] = await Promise.all([server({ configs: dir, fastLane: true, bodyLimit: 4096 }), server({ configs: dir, fastLane: false, bodyLimit: 4096 })]);
});
afterAll(async () => Promise.all([lane?.close(), app?.close()]));

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: Record<string, unknown>;
}

async function send(srv: RunningServer, path: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Answer> {
  const res = await request(`${srv.url}${path}`, { method: 'POST', headers, body });
  const text = await res.body.text();
  // Timings differ from run to run: everything else must match.
  const parsed = JSON.parse(text, (k, v: unknown) => (k === 'took_ms' || k === 'ms' ? undefined : v)) as Record<string, unknown>;
  const h = res.headers;
  return { status: res.statusCode, headers: { 'content-type': h['content-type'], 'retry-after': h['retry-after'], connection: h['connection'] }, body: parsed };
}

/** Both servers answer `body` alike; returns the lane's answer and how many requests the lane took for it. */
async function same(path: string, body: string | Buffer, headers?: Record<string, string>): Promise<{ a: Answer; took: number }> {
  const before = laneCounts.taken;
  const a = await send(lane, path, body, headers);
  const took = laneCounts.taken - before;
  const b = await send(app, path, body, headers);
  expect(laneCounts.taken - before, 'the app-only server never uses the lane').toBe(took);
  expect(a, `${path} ${String(body).slice(0, 80)}`).toEqual(b);
  return { a, took };
}

const ok = JSON.stringify({ client_id: 17, product_id: 42 });

describe('fast lane', () => {
  it('answers plain runs, good and bad, exactly as the app does', async () => {
    const cases: [string, string | Buffer, number, string?][] = [
      ['a run', ok, 200],
      ['a run with charset', ok, 200],
      ['a UTF-8 byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ok)]), 200],
      ['missing inputs', '{}', 422, 'INPUT_INVALID'],
      ['an empty body', '', 422, 'INPUT_INVALID'],
      ['an unknown input', JSON.stringify({ client_id: 17, product_id: 42, colour: 'red' }), 422, 'INPUT_INVALID'],
      ['a wrong type', JSON.stringify({ client_id: 'x', product_id: 42 }), 422, 'INPUT_INVALID'],
      ['an array', '[1, 2]', 422, 'INPUT_INVALID'],
      ['null', 'null', 422, 'INPUT_INVALID'],
      ['not JSON', '{"client_id": 17,', 400, 'BODY_UNPARSABLE'],
      ['a forbidden key', '{"client_id": 17, "product_id": 42, "__proto__": {"x": 1}}', 400, 'BODY_UNPARSABLE'],
      ['an escaped forbidden key', '{"client_id": 17, "product_id": 42, "\\u005f_proto__": {"x": 1}}', 400, 'BODY_UNPARSABLE'],
      ['deep nesting', `{"a": ${'['.repeat(200)}${']'.repeat(200)}}`, 400, 'BODY_UNPARSABLE'],
      ['an unknown client (empty answer)', JSON.stringify({ client_id: 999999, product_id: 42 }), 200],
    ];
    for (const [what, body, status, code] of cases) {
      const headers = what === 'a run with charset' ? { 'content-type': 'application/json; charset=utf-8' } : undefined;
      const { a, took } = await same('/pipelines/complimentary_items', body, headers);
      expect(a.status, what).toBe(status);
      expect(took, `${what}: taken by the lane`).toBe(1);
      if (code) expect(a.body['code'], what).toBe(code);
      if (status === 200 && what !== 'an unknown client (empty answer)') expect((a.body['items'] as unknown[]).length, what).toBe(10);
      // A body that is not an object is pointed at like any other input error (it had no `errors`).
      if (what === 'an array' || what === 'null') expect(a.body['errors'], what).toEqual([{ path: '', message: 'must be a JSON object of inputs' }]);
    }
  });

  it('refuses text/plain with 415 in both lanes, naming what is accepted (the README says so; it was read as JSON)', async () => {
    for (const type of ['text/plain', 'text/plain; charset=utf-8']) {
      const { a, took } = await same('/pipelines/complimentary_items', ok, { 'content-type': type });
      expect([a.status, a.body['code'], took]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE', 0]);
      expect(a.body['reason']).toMatch(/application\/json.*application\/yaml or text\/yaml/);
    }
  });

  it('refuses a charset other than UTF-8 (415 naming it) and bytes that are not UTF-8 (400), in both lanes; they were read as UTF-8', async () => {
    for (const type of ['application/json; charset=utf-16', 'application/json; charset=ISO-8859-1', 'application/json;charset="latin1"', 'application/yaml; charset=UTF-16LE']) {
      const { a, took } = await same('/pipelines/complimentary_items', ok, { 'content-type': type });
      expect([a.status, a.body['code'], took], type).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE', 0]);
      expect(a.body['reason'], type).toMatch(new RegExp(`charset '${type.split('=')[1]!.replace(/"/g, '').toLowerCase()}' is not supported`));
    }
    for (const type of ['application/json; charset=UTF-8', 'application/json; charset="utf-8"', 'application/json; charset=US-ASCII']) {
      const { a, took } = await same('/pipelines/complimentary_items', ok, { 'content-type': type });
      expect([a.status, took], type).toEqual([200, 1]);
    }
    // A Latin-1 'é' (0xe9) and a lone 0xff: not UTF-8. They became U+FFFD, and a run looked up a mangled value.
    const bad = Buffer.concat([Buffer.from('{"client_id": 17, "product_id": 42, "note": "caf'), Buffer.from([0xe9, 0xff]), Buffer.from('"}')]);
    const json = await same('/pipelines/complimentary_items', bad);
    expect([json.a.status, json.a.body['code'], json.a.body['reason'], json.took]).toEqual([400, 'BODY_UNPARSABLE', 'the body is not valid UTF-8', 1]);
    const yaml = await same('/pipelines/complimentary_items', Buffer.concat([Buffer.from('client_id: 17\nproduct_id: 42\nnote: caf'), Buffer.from([0xe9])]), { 'content-type': 'application/yaml' });
    expect([yaml.a.status, yaml.a.body['code'], yaml.a.body['reason'], yaml.took]).toEqual([400, 'BODY_UNPARSABLE', 'the body is not valid UTF-8', 0]);
  });

  it('leaves everything else to the app', async () => {
    const cases: [string, string, Record<string, string>][] = [
      ['debug query', '/pipelines/complimentary_items?debug=true', { 'content-type': 'application/json' }],
      ['debug header', '/pipelines/complimentary_items', { 'content-type': 'application/json', 'x-airmail-debug': 'true' }],
      ['trace header', '/pipelines/complimentary_items', { 'content-type': 'application/json', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00' }],
      ['YAML body', '/pipelines/complimentary_items', { 'content-type': 'application/yaml' }],
      ['no content type', '/pipelines/complimentary_items', {}],
      ['unknown pipeline', '/pipelines/nope', { 'content-type': 'application/json' }],
      ['escaped name', '/pipelines/complimentary%5Fitems', { 'content-type': 'application/json' }],
    ];
    for (const [what, path, headers] of cases) {
      const body = what === 'YAML body' ? 'client_id: 17\nproduct_id: 42\n' : ok;
      const { a, took } = await same(path, body, headers);
      expect(took, `${what}: left to the app`).toBe(0);
      expect(a.status, what).toBe(what === 'unknown pipeline' ? 404 : 200);
    }
    // Over the body limit: the app refuses it (413) and closes the connection. Like a 415 or 422 on
    // that route, the answer names the loaded pipeline and its version (it said null).
    const big = JSON.stringify({ client_id: 17, product_id: 42, pad: 'x'.repeat(5000) });
    const { a, took } = await same('/pipelines/complimentary_items', big);
    expect([a.status, a.body['code'], a.body['pipeline'], took]).toEqual([413, 'BODY_TOO_LARGE', 'complimentary_items', 0]);
    expect(a.body['version']).toBe(app.engine.snapshot.pipelines.get('complimentary_items')?.version);
    const unknown = await same('/pipelines/nope', big);
    expect([unknown.a.status, unknown.a.body['pipeline'], unknown.a.body['version']]).toEqual([413, null, null]);
  });

  it('takes runs that carry a deadline header', async () => {
    const { a, took } = await same('/pipelines/complimentary_items', ok, { 'content-type': 'application/json', 'x-airmail-deadline-ms': '60000' });
    expect([a.status, took]).toEqual([200, 1]);
  });
});
