/**
 * POST /execute with a body that parses but is not an object (`[1]`, `null`, `"text"`, a YAML list)
 * answered 400 BODY_UNPARSABLE, though the body was parsed; a named run, admin POST /pipelines and
 * /validate answer such a body 422 (the README's status table: a body of the wrong shape is a 422).
 * Now /execute answers 422 CONFIG_INVALID with the problem in `errors`, and only a body that does not
 * parse stays a 400.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer;
beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), threads: 0, watch: false });
});
afterAll(async () => srv?.close());

const post = async (path: string, body: string, type = 'application/json'): Promise<{ status: number; body: Record<string, unknown> }> => {
  const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

it('a body that parses but is not an object is a 422 CONFIG_INVALID naming what it must be, as /validate answers it', async () => {
  for (const [body, type] of [['[1]'], ['null'], ['"text"'], ['5'], ['- 1\n- 2\n', 'application/yaml'], ['just text\n', 'application/yaml']] as [string, string?][]) {
    const a = await post('/execute', body, type);
    expect(a.status, body).toBe(422);
    expect(a.body, body).toMatchObject({ error: true, code: 'CONFIG_INVALID', reason: "the body must be an object with 'pipeline:' and 'inputs:'", errors: [{ pointer: '' }] });
    expect((await post('/validate', body, type)).status, `/validate ${body}`).toBe(422);
  }
});

it('a body that does not parse stays a 400 BODY_UNPARSABLE', async () => {
  for (const [body, type] of [['{"a":'], ['a: [1,\n  b: }', 'application/yaml']] as [string, string?][]) {
    const a = await post('/execute', body, type);
    expect(a.status, body).toBe(400);
    expect(a.body['code'], body).toBe('BODY_UNPARSABLE');
  }
});
