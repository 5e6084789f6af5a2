/**
 * Regression (one poison request broke a js model for good): a js envelope's `predict` that ran its
 * thread out of heap, called `process.exit`, or threw from a stray timer killed its worker thread,
 * and the thread was replaced only after a deadline overrun. Every later call, for any input, was
 * refused with `422 MODEL_LOAD_FAILED ... crashed` until the next version or a restart, while
 * `/ready` stayed 200. Now only the call that was running fails (500 `MODEL_FAILED`, naming the
 * crash) and the next call is answered by a fresh thread.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { loadFunction, sha256Hex } from '../engine/registry/function.js';
import { publishModel } from '../engine/registry/publish.js';
import type { RunningServer } from '../engine/server.js';
import { closeRegistryWorld, registryServer } from './helpers.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
// x = 1: runs its thread out of heap; 2: process.exit; 3: a throw from a timer, after answering.
const POISON = enc(`export function predict(c, rows) {
  if (c.x[0] === 1) { const a = []; while (true) a.push(new Array(1e6).fill(1)); }
  if (c.x[0] === 2) process.exit(3);
  if (c.x[0] === 3) setTimeout(() => { throw new Error('stray'); }, 0);
  return { y: Float64Array.from(c.x, (v) => v * 10) };
}
`);
const envelope = { name: 'poison', version: 1, function: { flavor: 'js' as const, artifact: { sha256: sha256Hex(POISON), size: POISON.length }, inputs: [{ name: 'x', type: 'float64' as const }], outputs: [{ name: 'y', type: 'float64' as const }] } };

describe('a js function whose thread dies in a call', () => {
  it('fails that call with MODEL_FAILED and answers the next one from a fresh thread', async () => {
    const fn = await loadFunction(envelope, POISON);
    try {
      for (const [x, why] of [[1, /crashed: .*heap/], [2, /exited \(code 3\)/]] as const) {
        await expect(fn.predict({ x: Float64Array.of(x) }, 1, { timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'MODEL_FAILED', message: expect.stringMatching(why) });
        const r = await fn.predict({ x: Float64Array.of(5) }, 1, { timeoutMs: 20_000 });
        expect(Array.from(r['y'] as Float64Array)).toEqual([50]);
      }
      // The stray throw comes after its answer: that call succeeds, and so does the next.
      expect(Array.from((await fn.predict({ x: Float64Array.of(3) }, 1))['y'] as Float64Array)).toEqual([30]);
      await new Promise((r) => setTimeout(r, 100));
      expect(Array.from((await fn.predict({ x: Float64Array.of(6) }, 1))['y'] as Float64Array)).toEqual([60]);
    } finally {
      await fn.close();
    }
    await expect(fn.predict({ x: Float64Array.of(5) }, 1)).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED', message: expect.stringContaining('closed') });
  }, 30_000);
});

describe('a deployed js model and a poison request', () => {
  let reg: RunningRegistry;
  let dir: string;
  let srv: RunningServer | undefined;

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-js-crash-');
    await publishModel({ artifact: POISON, flavor: 'js', name: 'poison', description: 'x', sample: [{ x: 5 }, { x: 7 }] }, reg.store);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'dep.yaml'), 'deployments:\n- {name: poison, model: {tags: {name: poison}}}\n');
    srv = await registryServer(dir, reg.url);
  });
  afterAll(async () => { await closeRegistryWorld(srv, reg, dir); });

  const predict = async (x: number): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${srv!.url}/models/poison/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: [{ x }] }) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('fails only the poison request; the next one is served', async () => {
    expect((await predict(5)).json['predictions']).toEqual([{ y: 50 }]);
    for (const x of [1, 2]) {
      const bad = await predict(x);
      expect(bad.status).toBe(500);
      expect(bad.json['code']).toBe('MODEL_FAILED');
      const good = await predict(5);
      expect(good.status).toBe(200);
      expect(good.json['predictions']).toEqual([{ y: 50 }]);
    }
  }, 30_000);
});
