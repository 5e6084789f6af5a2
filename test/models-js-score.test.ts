/**
 * A js function from the registry as a ModelScore model: the feature matrix is handed to the
 * function as named columns (in its own worker, inside each pool worker), its first output is the
 * score, responses name its version, and a newer version is picked up like an ONNX one.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../engine/registry/fixtures.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import type { RunningServer } from '../engine/server.js';
import { server } from './helpers.js';

// score = k * w + bonus, where bonus is a per-request constant from the inputs.
const model = (k: number): Uint8Array => new TextEncoder().encode(`export function predict(c, rows) {
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) y[i] = ${k} * c.w[i] + c.bonus[i];
  return { y };
}\n`);

describe('ModelScore with a js function from the registry', () => {
  let dir: string;
  let publisher: RegistryStore;
  let srv: RunningServer;
  const publish = (k: number): Promise<unknown> => publishModel({ artifact: model(k), flavor: 'js', name: 'jsrank', description: `y = ${k}w + bonus`, tags: { stage: 'prod' }, sample: [{ w: 1, bonus: 0 }, { w: 2.5, bonus: 1 }] }, publisher);
  const run = async (bonus: number): Promise<{ items: { id: number; score: number }[]; models?: Record<string, string> }> => {
    const res = await fetch(`${srv.url}/pipelines/jsranked`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bonus }) });
    expect(res.status).toBe(200);
    return (await res.json()) as { items: { id: number; score: number }[]; models?: Record<string, string> };
  };

  beforeAll(async () => {
    dir = await tempDir('airmail-js-score-');
    publisher = await RegistryStore.open(join(dir, 'registry'), { create: true });
    await publish(2);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'items.json'), JSON.stringify([{ id: 1, w: 0.5 }, { id: 2, w: 3 }, { id: 3, w: 1 }]));
    await writeFile(join(dir, 'configs', 'p.yaml'), `
datasets:
  items: {path: ../items.json, key: id}
pipeline:
  name: jsranked
  item_type: id
  initialization:
    includes: [{name: Static, parameters: {items: [1, 2, 3]}}]
    scores: [{name: ModelScore, parameters: {model: {tags: {name: jsrank, stage: prod}}, features: {bonus: $bonus}}}]
  operations: [{name: Sort, parameters: {by: score, desc: true}}]
  return: [id, score]
  inputs: {bonus: {type: number}}
`);
    srv = await server({ configs: join(dir, 'configs'), threads: 2, registry: join(dir, 'registry'), modelHub: { pollMs: 100, log: () => undefined } });
    expect(srv.startErrors).toEqual([]);
  });

  afterAll(async () => {
    await srv?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scores with the function: item columns and request constants by name, the version named', async () => {
    const r = await run(10);
    expect(r.items.map((i) => i.id)).toEqual([2, 3, 1]);
    expect(r.items.map((i) => i.score)).toEqual([16, 12, 11]);
    expect(Object.values(r.models ?? {})).toEqual(['jsrank@1']);
  });

  it('picks up a newer version by itself', async () => {
    await publish(-1);
    const t0 = Date.now();
    let r = await run(0);
    while (Object.values(r.models ?? {})[0] !== 'jsrank@2' && Date.now() - t0 < 5000) {
      await new Promise((ok) => setTimeout(ok, 100));
      r = await run(0);
    }
    expect(Object.values(r.models ?? {})).toEqual(['jsrank@2']);
    expect(r.items.map((i) => [i.id, i.score])).toEqual([[1, -0.5], [3, -1], [2, -3]]);
  });

  // Regression: a js function taking a text column scored in a pipeline with that column as NaN
  // (ModelScore hands models one float matrix), so its text branches never ran, without a word.
  it('refuses at load a js function that takes a text column, naming it', async () => {
    await publishModel({
      artifact: new TextEncoder().encode('export function predict(c, rows) { return { y: Float64Array.from(c.w, (w, i) => w + (c.dept[i] === "shoes" ? 1 : 0)) }; }\n'),
      flavor: 'js', name: 'jstext', description: 'w + shoes bonus', sample: [{ w: 1, dept: 'shoes' }, { w: 2, dept: 'hats' }],
    }, publisher);
    const res = await fetch(`${srv.url}/execute`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pipeline: { name: 'jstext', item_type: 'id', initialization: { includes: [{ name: 'Static', parameters: { items: [1] } }], scores: [{ name: 'ModelScore', parameters: { model: { tags: { name: 'jstext' } }, features: { dept: 'w' } } }] } }, inputs: {} }),
    });
    const body = (await res.json()) as { error: boolean; reason: string };
    expect(res.status).toBe(422);
    expect(body.reason).toMatch(/jstext@1 takes dept \(string\); ModelScore hands a model numbers only/);
  });

  it('does not swap in a version whose input of the same name became text', async () => {
    await publishModel({
      artifact: new TextEncoder().encode('export function predict(c, rows) { return { y: Float64Array.from(c.w, (w) => w) }; }\n'),
      flavor: 'js', name: 'jsrank', description: 'bonus as text', tags: { stage: 'prod' }, sample: [{ w: 1, bonus: 'a' }, { w: 2.5, bonus: 'b' }],
    }, publisher);
    const t0 = Date.now();
    let rejected: { candidate: string; reason: string } | undefined;
    while (!rejected && Date.now() - t0 < 5000) {
      await new Promise((ok) => setTimeout(ok, 100));
      const models = (await (await fetch(`${srv.url}/models`)).json()) as { rejections: { candidate: string; reason: string }[] };
      rejected = models.rejections.find((x) => x.candidate === 'jsrank@3');
    }
    expect(rejected?.reason).toMatch(/its inputs \(js: w, bonus \(string\)\) differ/);
    expect(Object.values((await run(0)).models ?? {})).toEqual(['jsrank@2']);
  });

  // Regression: a version whose first output is text ({ label, score }) swapped into a running
  // pipeline, and every score became null (Number('dear') is NaN) with error: false; ModelScore at
  // load accepted such a function too.
  it('refuses at load a js function whose first output is text, naming it', async () => {
    await publishModel({
      artifact: new TextEncoder().encode('export function predict(c, rows) { return { label: Array.from(c.w, (w) => (w > 1 ? "dear" : "cheap")), y: Float64Array.from(c.w) }; }\n'),
      flavor: 'js', name: 'jslabel', description: 'label first', sample: [{ w: 1 }, { w: 2 }],
    }, publisher);
    const res = await fetch(`${srv.url}/execute`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pipeline: { name: 'jslabel', item_type: 'id', initialization: { includes: [{ name: 'Static', parameters: { items: [1] } }], scores: [{ name: 'ModelScore', parameters: { model: { tags: { name: 'jslabel' } } } }] } }, inputs: {} }),
    });
    const body = (await res.json()) as { error: boolean; reason: string };
    expect(res.status).toBe(422);
    expect(body.reason).toMatch(/jslabel@1 answers 'label' \(string\) as its first output, which ModelScore scores by; a score must be a number/);
  });

  it('does not swap in a version whose first output is text', async () => {
    await publishModel({
      artifact: new TextEncoder().encode('export function predict(c, rows) { return { label: Array.from(c.w, () => "x"), y: Float64Array.from(c.w) }; }\n'),
      flavor: 'js', name: 'jsrank', description: 'label first', tags: { stage: 'prod' }, sample: [{ w: 1, bonus: 0 }, { w: 2.5, bonus: 1 }],
    }, publisher);
    const t0 = Date.now();
    let rejected: { candidate: string; reason: string } | undefined;
    while (!rejected && Date.now() - t0 < 5000) {
      await new Promise((ok) => setTimeout(ok, 100));
      const models = (await (await fetch(`${srv.url}/models`)).json()) as { rejections: { candidate: string; reason: string }[] };
      rejected = models.rejections.find((x) => x.candidate === 'jsrank@4');
    }
    expect(rejected?.reason).toMatch(/its first output 'label' is string, and pipeline 'jsranked' scores by the first output, which must be a number; jsrank@2 keeps serving/);
    const r = await run(0);
    expect(Object.values(r.models ?? {})).toEqual(['jsrank@2']);
    expect(r.items.map((i) => i.score)).toEqual([-0.5, -1, -3]);
  });
});
