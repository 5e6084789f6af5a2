/**
 * `airmail run EXPERIMENT`: an A/B experiment is served at /pipelines/NAME like a pipeline, but the
 * CLI's run answered "no pipeline named 'home_feed' is loaded (loaded: home_feed_v1, home_feed_v2)",
 * so a data scientist could not check a client's arm offline. It now runs as a request to the
 * experiment does (the arm the unit picks, `experiment` in the answer, the same refusals), and
 * `--arm` forces an arm as `?arm=` does.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { airmailCli, tempDir } from './helpers.js';

let dir: string;
const arm = (name: string, column: string): string => `
- name: ${name}
  item_type: sku
  inputs: {client_id: {type: integer}}
  initialization:
    includes: [{name: Lookup, parameters: {dataset: products}}]
    scores: [{name: Column, parameters: {column: ${column}}}]
  operations: [{name: Sort, parameters: {by: score, desc: true}}]`;

beforeAll(async () => {
  dir = await tempDir('airmail-cli-experiment-');
  await writeFile(join(dir, 'products.json'), JSON.stringify([{ sku: 1, sales: 3, margin: 0.1 }, { sku: 2, sales: 1, margin: 0.9 }]));
  await writeFile(join(dir, 'feeds.yaml'), `
datasets:
  products: {path: products.json, key: sku}
pipelines:${arm('home_feed_v1', 'sales')}${arm('home_feed_v2', 'margin')}
experiments:
- name: home_feed
  unit: $client_id
  arms:
  - {pipeline: home_feed_v1, weight: 90}
  - {pipeline: home_feed_v2, weight: 10}
`);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('airmail run on an A/B experiment', () => {
  it('runs the arm the unit picks (the README: client 17 is bucket 6072, home_feed_v1), and --arm forces one', async () => {
    const r = await airmailCli({}, 'run', 'home_feed', '--configs', dir, '--input', 'client_id=17');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const a = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(a['pipeline']).toBe('home_feed_v1');
    expect(a['experiment']).toEqual({ name: 'home_feed', arm: 'home_feed_v1', assignment: 'assigned', bucket: 6072 });
    expect((a['items'] as { sku: number }[]).map((i) => i.sku)).toEqual([1, 2]);
    const f = await airmailCli({}, 'run', 'home_feed', '--configs', dir, '--input', 'client_id=17', '--arm', 'home_feed_v2');
    expect(f.code).toBe(0);
    expect(JSON.parse(f.stdout)).toMatchObject({ pipeline: 'home_feed_v2', experiment: { arm: 'home_feed_v2', assignment: 'forced', bucket: 6072 }, items: [{ sku: 2 }, { sku: 1 }] });
  }, 60_000);

  it('refuses a missing unit and an arm that is none, in one line each', async () => {
    const none = await airmailCli({}, 'run', 'home_feed', '--configs', dir);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^airmail run: inputs of experiment 'home_feed' are invalid: \/client_id is required: experiment 'home_feed' picks its arm by it .*\[INPUT_INVALID\]\n$/);
    const bad = await airmailCli({}, 'run', 'home_feed', '--configs', dir, '--input', 'client_id=1', '--arm', 'nope');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--arm must name an arm of experiment 'home_feed' (home_feed_v1, home_feed_v2); got 'nope'");
  }, 60_000);
});
