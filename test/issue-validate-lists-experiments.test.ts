/**
 * Issue: `airmail validate` named the pipelines it checked, but an experiment was checked silently:
 * a configs directory with pipelines, presets, datasets and two experiments printed only the
 * pipelines, and validating the experiment's own file printed its path, so a user could not tell
 * whether the experiment had been seen at all. The `ok:` line now names every experiment checked,
 * with its version, its arms and their shares, and its `default:` arm.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { airmailCliIn, tempDir } from './helpers.js';

const ITEMS = JSON.stringify([{ sku_id: 1, pop: 0.1 }, { sku_id: 2, pop: 0.9 }]);
const SHARED = `
datasets:
  items: {path: items.json, key: sku_id}
operators:
  Pop: {use: Column, parameters: {column: pop}}
`;
const arm = (name: string, unitDefault: boolean): string => `
- name: ${name}
  item_type: sku_id
  inputs: {client_id: {type: integer${unitDefault ? ', default: 0' : ''}}}
  initialization: {includes: [{name: Lookup, parameters: {dataset: items}}], scores: [Pop]}
`;
const EXPERIMENTS = `
experiments:
- name: home
  unit: $client_id
  default: feed_a
  arms:
  - {pipeline: feed_a, weight: 90}
  - {pipeline: feed_b, weight: 10}
- name: search
  unit: $client_id
  arms:
  - {pipeline: feed_a, weight: 1}
  - {pipeline: feed_b, weight: 1}
  - {pipeline: feed_c, weight: 1}
`;

async function world(): Promise<string> {
  const dir = await tempDir('airmail-validate-experiments-');
  await mkdir(join(dir, 'configs'));
  await writeFile(join(dir, 'configs', 'items.json'), ITEMS);
  await writeFile(join(dir, 'configs', 'shared.yaml'), SHARED);
  await writeFile(join(dir, 'configs', 'feeds.yaml'), `pipelines:${arm('feed_a', true)}${arm('feed_b', false)}${arm('feed_c', false)}`);
  await writeFile(join(dir, 'configs', 'experiments.yaml'), EXPERIMENTS);
  return dir;
}

const HOME = /home@[0-9a-f]{12} \(experiment: feed_a 90%, feed_b 10%; default feed_a\)/;
const SEARCH = /search@[0-9a-f]{12} \(experiment: feed_a 33\.3%, feed_b 33\.3%, feed_c 33\.3%\)/;

describe('airmail validate names the experiments it checked', () => {
  it('a whole configs directory: every pipeline and every experiment with its arms and shares', async () => {
    const dir = await world();
    const r = await airmailCliIn(dir, {}, 'validate', 'configs');
    expect([r.code, r.stderr]).toEqual([0, '']);
    const listed = r.stdout.replace(/^ok: /, '').trim();
    expect(listed).toMatch(/^feed_a@[0-9a-f]{12}, feed_b@[0-9a-f]{12}, feed_c@[0-9a-f]{12}, /);
    expect(listed).toMatch(HOME);
    expect(listed).toMatch(SEARCH);
  });

  it('the experiment file alone: the experiments it defines, not its path', async () => {
    const dir = await world();
    const r = await airmailCliIn(dir, {}, 'validate', 'configs/experiments.yaml');
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).not.toContain('experiments.yaml');
    expect(r.stdout).toMatch(new RegExp(`^ok: ${HOME.source}, ${SEARCH.source}\\n$`));
  });

  it('a pipeline file names its pipelines only: an experiment of another file is not claimed as checked there', async () => {
    const dir = await world();
    const r = await airmailCliIn(dir, {}, 'validate', 'configs/feeds.yaml');
    expect([r.code, r.stdout]).toEqual([0, expect.stringMatching(/^ok: feed_a@[0-9a-f]{12}, feed_b@[0-9a-f]{12}, feed_c@[0-9a-f]{12}\n$/)]);
  });
});
