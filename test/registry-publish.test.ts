/**
 * Publishing from the outside: `airmail publish` with the bench ONNX models and a sample derives the
 * shape and statistics; corrupt artifacts, models that do not load, bad metrics and missing tags are
 * refused with a clear error and leave the registry as it was. js-flavor functions load in isolation.
 */
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCli } from '../engine/registry/cli.js';
import type { Envelope } from '../engine/registry/envelope.js';
import { arrowBytes, BENCH_NOTE, benchFile, benchSampleColumns, FEATURES, runBench, snapshot, startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { loadFunction, sha256Hex } from '../engine/registry/function.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import { ROOT } from './helpers.js';

interface CliRun { code: number; out: string[]; err: string[] }

async function cli(...argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await registryCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

let dir: string;
let reg: RunningRegistry;
const SAMPLE_ROWS = 400;

beforeAll(async () => {
  dir = await tempDir('airmail-publish-');
  reg = await startRegistry();
  await writeFile(join(dir, 'metrics.json'), JSON.stringify({ auc: 0.83, roc: { type: 'roc_curve', fpr: [0, 0.2, 1], tpr: [0, 0.7, 1] } }));
  await writeFile(join(dir, 'bad-metrics.json'), JSON.stringify({ roc: { type: 'roc_curve', fpr: [0, 0.2, 1], tpr: [0, 1.7] } }));
  await writeFile(join(dir, 'garbage.onnx'), 'this is not a protobuf at all \u0000\u0001\u0002');
});
afterAll(async () => {
  await reg.close();
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!runBench)(`airmail publish with the bench models${BENCH_NOTE}`, () => {
  let sample: string;
  beforeAll(async () => {
    sample = join(dir, 'sample.arrow');
    await writeFile(sample, arrowBytes(benchSampleColumns(SAMPLE_ROWS)));
  });

  it.each([['psale_gbdt.onnx'], ['psale_mlp.onnx']])('derives the shape and statistics of %s', async (file) => {
    const r = await cli('publish', '--artifact', benchFile(file), '--flavor', 'onnx', '--name', 'psale', '--description', `p(sale) from ${file}`,
      '--tag', 'stage=prod', '--tag', `algo=${file.split('_')[1]!.split('.')[0]}`, '--sample', sample, '--metrics', join(dir, 'metrics.json'), '--registry', reg.url);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.out[0]!) as { name: string; version: number; sha256: string };
    const env = await reg.store.get('psale', printed.version);
    const bytes = await readFile(benchFile(file));
    expect(env.function).toMatchObject({ flavor: 'onnx', artifact: { sha256: sha256Hex(bytes), size: bytes.length, filename: file }, onnx: { inputName: 'features', outputNames: ['psale'] } });
    expect(env.function.inputs).toEqual(FEATURES.map((name) => ({ name, type: 'float32' })));
    expect(env.function.outputs).toEqual([{ name: 'psale', type: 'float32' }]);
    expect(env.index).toMatchObject({ name: 'psale', stage: 'prod', description: `p(sale) from ${file}` });
    expect(env.index['user']).toBeTruthy();
    expect(env.context).toMatchObject({ runtime: 'node', runtimeVersion: process.version });
    expect(env.context.packages['onnxruntime-node']).toBe('1.30.0');
    expect(env.metrics['auc']).toBe(0.83);
    // Statistics match the sample, recomputed here.
    const cols = benchSampleColumns(SAMPLE_ROWS);
    expect(env.data.rows).toBe(SAMPLE_ROWS);
    for (const name of ['f0', 'f7', 'c3']) {
      const xs = Array.from(cols[name]!);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
      const sorted = [...xs].sort((a, b) => a - b);
      expect(env.data.features[name]).toMatchObject({ type: 'float32', count: SAMPLE_ROWS, nulls: 0, min: sorted[0], max: sorted.at(-1) });
      expect(env.data.features[name]!.mean).toBeCloseTo(mean, 9);
      expect(env.data.features[name]!.std).toBeCloseTo(std, 9);
      expect(env.data.features[name]!.quantiles!['p50']).toBeCloseTo((sorted[199]! + sorted[200]!) / 2, 9);
    }
  });

  it('keeps every version: the newest prod model is what a tag query answers', async () => {
    const list = await reg.store.query('name=psale,stage=prod');
    expect(list.length).toBeGreaterThanOrEqual(2);
    expect(list[0]!.version).toBeGreaterThan(list[1]!.version);
    expect(list[0]!.index['algo']).toBe('mlp');
  });

  it('refuses a sample that does not fit the model', async () => {
    await writeFile(join(dir, 'narrow.json'), JSON.stringify([{ f0: 1, f1: 2 }]));
    const before = await snapshot(reg.root);
    const r = await cli('publish', '--artifact', benchFile('psale_gbdt.onnx'), '--flavor', 'onnx', '--name', 'psale', '--description', 'x', '--sample', join(dir, 'narrow.json'), '--registry', reg.url);
    expect(r.code).toBe(1);
    expect(r.err.join()).toMatch(/SAMPLE_INVALID.*takes 24 features but 2/);
    expect(await snapshot(reg.root)).toEqual(before);
  });

  it('runs as a command: bin/airmail.mjs publish into a folder registry', async () => {
    const folder = join(dir, 'folder-registry');
    const { code, stdout, stderr } = await run(['publish', '--artifact', benchFile('psale_gbdt.onnx'), '--flavor', 'onnx', '--name', 'psale', '--description', 'gbdt', '--tag', 'stage=prod', '--sample', sample, '--registry', `file://${folder}`, '--create']);
    expect(stderr).not.toMatch(/error/);
    expect(code).toBe(0);
    expect(JSON.parse(stdout.trim())).toMatchObject({ name: 'psale', version: 1, inputs: 24, outputs: ['psale'] });
    expect((await RegistryStore.open(folder)).query('name=psale')).toHaveLength(1);
  });
});

describe('airmail registry serve', () => {
  it('serves a folder over HTTP until SIGTERM, and airmail publish --registry URL publishes to it', async () => {
    const root = join(dir, 'served');
    const child = spawn(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'registry', 'serve', '--root', root, '--port', '0'], { cwd: ROOT, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1', AIRMAIL_ADMIN_TOKEN: '' } });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout.on('data', (d: Buffer) => { text += d.toString(); const m = /listening on (http:\/\/\S+)/.exec(text); if (m) resolve(m[1]!); });
        child.on('exit', (code) => reject(new Error(`registry serve exited (${code}) before listening`)));
      });
      await writeFile(join(dir, 'served-model.mjs'), 'export function predict(c) { return { y: Float64Array.from(c.x) }; }\n');
      await writeFile(join(dir, 'served-sample.json'), JSON.stringify([{ x: 1 }]));
      const r = await run(['publish', '--artifact', join(dir, 'served-model.mjs'), '--flavor', 'js', '--name', 'identity', '--description', 'y = x', '--tag', 'stage=prod', '--sample', join(dir, 'served-sample.json'), '--registry', url]);
      expect(r.code).toBe(0);
      const listed = (await (await fetch(`${url}/envelopes?q=name%3Didentity`)).json()) as { envelopes: { version: number }[] };
      expect(listed.envelopes.map((e) => e.version)).toEqual([1]);
      expect(await snapshot(root)).toContain('envelopes/identity/1.json:' + String((await readFile(join(root, 'envelopes/identity/1.json'))).length));
    } finally {
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});

describe('publish rejections leave the registry unchanged', () => {
  const jsFile = (): string => join(dir, 'double.mjs');
  beforeAll(async () => {
    await writeFile(jsFile(), 'export function predict(c) { return { y: Float64Array.from(c.x, (v) => v * 2) }; }\n');
    await writeFile(join(dir, 'xs.json'), JSON.stringify([{ x: 1 }, { x: 2.5 }]));
    const ok = await cli('publish', '--artifact', jsFile(), '--flavor', 'js', '--name', 'double', '--description', 'y = 2x', '--sample', join(dir, 'xs.json'), '--registry', reg.url);
    expect(ok.code).toBe(0);
  });

  const base = (): string[] => ['publish', '--flavor', 'js', '--name', 'double', '--description', 'y = 2x', '--sample', join(dir, 'xs.json'), '--registry', reg.url];

  it.each([
    ['a corrupt artifact (sha256 mismatch)', () => [...base(), '--artifact', jsFile(), '--sha256', 'c'.repeat(64)], /ARTIFACT_CORRUPT: artifact sha256 mismatch: expected c{64}/],
    ['an onnx model that does not load', () => ['publish', '--artifact', join(dir, 'garbage.onnx'), '--flavor', 'onnx', '--name', 'double', '--description', 'x', '--registry', reg.url], /MODEL_LOAD_FAILED: the artifact is not an ONNX model/],
    ['a js module without predict', () => [...base(), '--artifact', join(dir, 'xs.json')], /MODEL_LOAD_FAILED: js function double \(being published\) cannot be loaded/],
    ['a bad metric', () => [...base(), '--artifact', jsFile(), '--metrics', join(dir, 'bad-metrics.json')], /METRIC_INVALID: invalid metrics:\n {2}metric 'roc' \(roc_curve\): \/tpr\/1 must be <= 1/],
    ['a missing description', () => ['publish', '--artifact', jsFile(), '--flavor', 'js', '--name', 'double', '--sample', join(dir, 'xs.json'), '--registry', reg.url], /ENVELOPE_INVALID: the envelope index is incomplete:\n {2}index tag "description" is required/],
    ['a missing name', () => ['publish', '--artifact', jsFile(), '--flavor', 'js', '--description', 'x', '--sample', join(dir, 'xs.json'), '--registry', reg.url], /ENVELOPE_INVALID: .*index tag "name" is required/s],
  ])('refuses %s', async (_what, args, message) => {
    const before = await snapshot(reg.root);
    const r = await cli(...args());
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toMatch(message);
    expect(await snapshot(reg.root)).toEqual(before);
    // The same refusal against a folder registry.
    const folder = join(dir, 'reject-folder');
    const f = await cli(...args().map((a) => (a === reg.url ? folder : a)), '--create');
    expect(f.code).toBe(1);
    expect((await snapshot(folder)).filter((p) => p.startsWith('envelopes/'))).toEqual([]);
  });

  it('prints usage for a bad command line', async () => {
    const r = await cli('publish', '--artifact');
    expect(r.code).toBe(2);
    expect((await cli('publish', '--name', 'x')).err.join()).toMatch(/--artifact FILE and --flavor/);
  });
});

describe('js flavor', () => {
  it('publishes through the TS API and loads each envelope in its own isolated worker', async () => {
    const store = await RegistryStore.open(join(dir, 'js-registry'), { create: true });
    const mod = (tag: string): string => `globalThis.owner = ${JSON.stringify(tag)};
      export function predict(c, rows) {
        return { y: Float64Array.from(c.x, (v) => v + 1), who: Array.from({ length: rows }, () => globalThis.owner + ':' + (process.env.HOME ?? 'no-env')) };
      }`;
    const a = await publishModel({ artifact: new TextEncoder().encode(mod('a')), flavor: 'js', name: 'plus', description: 'x + 1', sample: [{ x: 1 }, { x: 2 }] }, store);
    const b = await publishModel({ artifact: new TextEncoder().encode(mod('b')), flavor: 'js', name: 'plus', description: 'x + 1', sample: [{ x: 1 }, { x: 2 }] }, store);
    expect(a.function.outputs).toEqual([{ name: 'y', type: 'float64' }, { name: 'who', type: 'string' }]);
    expect(a.context.bundle?.sha256).toBe(a.function.artifact.sha256);
    const fa = await loadFunction(a, await store.readArtifact(a.function.artifact.sha256));
    const fb = await loadFunction(b, await store.readArtifact(b.function.artifact.sha256));
    try {
      const ra = await fa.predict({ x: Float64Array.of(10, 20) }, 2);
      const rb = await fb.predict({ x: Float64Array.of(1) }, 1);
      expect(Array.from(ra['y'] as Float64Array)).toEqual([11, 21]);
      expect(ra['who']).toEqual(['a:no-env', 'a:no-env']);
      expect(rb['who']).toEqual(['b:no-env']);
    } finally {
      await Promise.all([fa.close(), fb.close()]);
    }
    await expect(loadFunction(a, new TextEncoder().encode('tampered'))).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
  });

  it('reports a predict that throws as MODEL_FAILED and one that does not fit its sample at publish', async () => {
    const store = await RegistryStore.open(join(dir, 'js-registry'), { create: true });
    const throws = new TextEncoder().encode('export function predict(c, rows) { if (rows > 1) throw new Error("only one row"); return { y: [1] }; }');
    const env = await publishModel({ artifact: throws, flavor: 'js', name: 'picky', description: 'one row', sample: [{ x: 1 }] }, store);
    const fn = await loadFunction(env, throws);
    await expect(fn.predict({ x: [1, 2] }, 2)).rejects.toMatchObject({ code: 'MODEL_FAILED', message: expect.stringContaining('only one row') });
    await fn.close();
    await expect(publishModel({ artifact: throws, flavor: 'js', name: 'picky', description: 'x', sample: [{ x: 1 }, { x: 2 }] }, store)).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED' });
    expect(store.versions('picky').map((s: Envelope | { version: number }) => s.version)).toEqual([1]);
  });

  it('refuses a predict that returns an array by saying it must return an object of columns (was: "output \'0\' does not have 3 values")', async () => {
    const store = await RegistryStore.open(join(dir, 'js-array-registry'), { create: true });
    const array = new TextEncoder().encode('export function predict(c, rows) { return Array.from({ length: rows }, () => 0.5); }');
    const err = await publishModel({ artifact: array, flavor: 'js', name: 'flat', description: 'an array', sample: [{ x: 1 }, { x: 2 }, { x: 3 }] }, store).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MODEL_LOAD_FAILED', message: expect.stringContaining('predict returned an array of 3 values; it must return an object of columns, one array per output, e.g. { score: [...] }') });
    expect((err as Error).message).not.toContain("output '0'");
    expect(store.versions('flat')).toEqual([]);
  });
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/airmail.mjs'), ...args], { cwd: ROOT, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
