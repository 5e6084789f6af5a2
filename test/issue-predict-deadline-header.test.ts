/**
 * POST /models/{name}/predict took x-airmail-deadline-ms as its deadline outright, where every
 * pipeline route lets that header only shorten the server's deadline: a caller sending
 * `x-airmail-deadline-ms: 9999999999` gave a js model stuck in a loop 115 days on its thread
 * instead of the server's deadline, and every later prediction of that model waited behind it; and
 * the server's own --deadline-ms was ignored (always 10 s). Now a prediction has the server's
 * deadline, which the header may only shorten. And a header of 11 digits or more, a positive whole
 * number, was a 400 saying it was not one: it is taken, as the longest deadline it can ask for.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { sha256Hex } from '../engine/registry/function.js';
import { publishModel } from '../engine/registry/publish.js';
import { deadlineOption } from '../engine/http/deadline.js';
import type { RunningServer } from '../engine/server.js';
import { closeRegistryWorld, server } from './helpers.js';

const LOOPS = new TextEncoder().encode(`export function predict(c, rows) {
  if (c.x[0] === 9) { while (true) {} }
  return { y: Float64Array.from(c.x, (v) => v * 10) };
}
`);

describe('a prediction with a long x-airmail-deadline-ms', () => {
  let reg: RunningRegistry;
  let dir: string;
  let srv: RunningServer | undefined;

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-predict-deadline-');
    await publishModel({ artifact: LOOPS, flavor: 'js', name: 'loops', description: 'x', sample: [{ x: 5 }, { x: 7 }], sha256: sha256Hex(LOOPS) }, reg.store);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'dep.yaml'), 'deployments:\n- {name: loops, model: {tags: {name: loops}}}\n');
    srv = await server({ configs: join(dir, 'configs'), registry: reg.url, modelHub: { cacheDir: join(dir, 'cache'), log: () => undefined }, deadlineMs: 400 });
    expect(srv.startErrors).toEqual([]);
  });
  afterAll(async () => { await closeRegistryWorld(srv, reg, dir); });

  const predict = async (x: number, deadline?: string): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${srv!.url}/models/loops/predict`, { method: 'POST', headers: { 'content-type': 'application/json', ...(deadline ? { 'x-airmail-deadline-ms': deadline } : {}) }, body: JSON.stringify({ rows: [{ x }] }) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it("cannot lengthen the server's deadline: a looping call ends in 504 at --deadline-ms, and the next is served", async () => {
    // Before, this request held the model's thread for 10 minutes (and the test timed out).
    const stuck = await predict(9, '600000');
    expect(stuck.status).toBe(504);
    expect(stuck.json['code']).toBe('DEADLINE_EXCEEDED');
    const next = await predict(5, '99999999999');
    expect(next.status).toBe(200);
    expect(next.json['predictions']).toEqual([{ y: 50 }]);
  }, 30_000);

  it('may shorten it', async () => {
    const r = await predict(9, '50');
    expect(r.status).toBe(504);
  }, 30_000);
});

describe('the deadline header', () => {
  it('takes any positive whole number, however long, and still refuses the rest', () => {
    expect(deadlineOption('99999999999')).toEqual({ deadlineMs: 2 ** 31 - 1 });
    expect(deadlineOption('9'.repeat(400))).toEqual({ deadlineMs: 2 ** 31 - 1 });
    expect(deadlineOption('250')).toEqual({ deadlineMs: 250 });
    for (const bad of ['0', '000', '-5', '1e3', '0x10', '1.5', 'abc', '', '1, 2']) expect(() => deadlineOption(bad)).toThrow(/positive whole number/);
  });
});
