/**
 * Regression (js models that never return): a `predict` or a module body stuck in a busy loop had no
 * time limit anywhere: publish never returned, a warm-up hung the binding for good, a request waited
 * forever. Each now runs under a limit whose overrun stops the worker thread (Worker.terminate() ends
 * a busy loop) and fails with a coded error; the old version keeps serving.
 */
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { loadFunction, sha256Hex } from '../engine/registry/function.js';
import { ModelHub } from '../engine/registry/model-hub.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import { ROOT } from './helpers.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const envelopeOf = (bytes: Uint8Array) => ({ name: 'm', version: 1, function: { flavor: 'js' as const, artifact: { sha256: sha256Hex(bytes), size: bytes.length }, inputs: [{ name: 'x', type: 'float64' as const }], outputs: [{ name: 'y', type: 'float64' as const }] } });

let dir: string;
beforeAll(async () => { dir = await tempDir('airmail-js-timeouts-'); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('js functions under a time limit', () => {
  it('stops a predict that overruns its deadline and answers the next call from a fresh thread', async () => {
    const bytes = enc('export function predict(c) { if (c.x[0] > 0) { while (true) {} } return { y: Float64Array.from(c.x, (v) => -v) }; }');
    const fn = await loadFunction(envelopeOf(bytes), bytes);
    try {
      await expect(fn.predict({ x: Float64Array.of(1) }, 1, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', message: expect.stringContaining('stopped and replaced') });
      const r = await fn.predict({ x: Float64Array.of(-2) }, 1, { timeoutMs: 10_000 });
      expect(Array.from(r['y'] as Float64Array)).toEqual([2]);
    } finally {
      await fn.close();
    }
  });

  it('refuses a module whose body never finishes loading', async () => {
    const bytes = enc('while (true) {}\nexport function predict() { return {}; }');
    await expect(loadFunction(envelopeOf(bytes), bytes, { timeoutMs: 200 })).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED', message: expect.stringContaining('did not load within 200 ms') });
  });

  it('quotes no data: URL when the module cannot be imported', async () => {
    const bytes = enc('import { h } from "./helper.mjs";\nexport function predict() { return { y: [h] }; }');
    const err = await loadFunction(envelopeOf(bytes), bytes).catch((e: Error) => e);
    expect((err as Error).message).not.toContain('base64');
  });

  it('airmail publish refuses a predict that never returns, and exits', async () => {
    const reg: RunningRegistry = await startRegistry({ checkTimeoutMs: 300 });
    try {
      await writeFile(join(dir, 'js_hang.mjs'), 'export function predict() { while (true) {} }');
      await writeFile(join(dir, 'sample.csv'), 'f0,c0\n1,2\n3,4\n');
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'publish', '--artifact', join(dir, 'js_hang.mjs'), '--flavor', 'js', '--name', 'hang', '--description', 'x',
          '--inputs', 'f0:float32,c0:float32', '--outputs', 'psale:float32', '--sample', join(dir, 'sample.csv'), '--registry', reg.url],
        { cwd: ROOT, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1' } });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stderr }));
      });
      expect(r.stderr).toMatch(/MODEL_LOAD_FAILED.*did not answer within/);
      expect(r.code).toBe(1);
      expect(reg.store.versions('hang')).toEqual([]);
    } finally {
      await reg.close();
    }
  }, 60_000);
});

describe('a js version that hangs in its warm-up', () => {
  it('is rejected, the old version keeps serving, and a later good version is adopted', async () => {
    const root = join(dir, 'hub-registry');
    const store = await RegistryStore.open(root, { create: true });
    const good = (k: number): Uint8Array => enc(`export function predict(c, rows) { return { y: Float64Array.from(c.x, (v) => v * ${k}) }; }`);
    // Fits its 2-row sample at publish, loops on the engine's 4-row warm-up.
    const hangs = enc('export function predict(c, rows) { if (rows > 2) { while (true) {} } return { y: Float64Array.from(c.x) }; }');
    const sample = [{ x: 1 }, { x: 2 }];
    await publishModel({ artifact: good(1), flavor: 'js', name: 'warm', description: 'x', sample }, store);
    const hub = new ModelHub({ location: root, pollMs: 20, checkTimeoutMs: 300, log: () => undefined });
    try {
      const r = await hub.resolve({ tags: { name: 'warm' } });
      expect(r.version).toBe(1);
      await publishModel({ artifact: hangs, flavor: 'js', name: 'warm', description: 'x', sample }, store);
      while (hub.rejections.length === 0) await new Promise((res) => setTimeout(res, 20));
      expect(hub.rejections[0]).toMatchObject({ candidate: 'warm@2', code: 'MODEL_LOAD_FAILED', reason: expect.stringContaining('did not answer within 300 ms') });
      expect(hub.current(r.binding)?.label).toBe('warm@1');
      await publishModel({ artifact: good(3), flavor: 'js', name: 'warm', description: 'x', sample }, store);
      while (hub.current(r.binding)?.label !== 'warm@3') await new Promise((res) => setTimeout(res, 20));
      const out = await hub.current(r.binding)!.fn.predict({ x: Float64Array.of(2) }, 1);
      expect(Array.from(out['y'] as Float64Array)).toEqual([6]);
    } finally {
      await hub.close();
    }
  }, 30_000);
});
