/**
 * The filesystem store: numbered immutable versions, content-addressed artifacts checked against
 * their sha256, tag queries newest first, aliases, added metrics, and paths that never leave the root.
 */
import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ENVELOPE_FORMAT, type EnvelopeDraft } from '../engine/registry/envelope.js';
import { sha256Hex } from '../engine/registry/function.js';
import { inside } from '../engine/registry/fs-safe.js';
import { snapshot, tempDir } from '../engine/registry/fixtures.js';
import { RegistryStore } from '../engine/registry/store.js';
import { rm } from 'node:fs/promises';

const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map((r) => rm(r, { recursive: true, force: true })));
});

async function newStore(): Promise<RegistryStore> {
  const root = await tempDir();
  roots.push(root);
  return RegistryStore.open(root, { create: true });
}

function draft(name: string, tags: Record<string, string>, bytes: Uint8Array): EnvelopeDraft {
  return {
    format: ENVELOPE_FORMAT,
    name,
    function: { flavor: 'onnx', artifact: { sha256: sha256Hex(bytes), size: bytes.length }, inputs: [{ name: 'f0', type: 'float32' }], outputs: [{ name: 'y', type: 'float32' }] },
    context: { runtime: 'node', runtimeVersion: process.version, language: 'javascript', packages: {} },
    index: { ...tags, name, description: `${name} model` },
    data: { rows: 0, features: {} },
    metrics: {},
  };
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('RegistryStore', () => {
  it('numbers versions 1, 2, 3 per name and never overwrites one', async () => {
    const store = await newStore();
    const a = await store.publish(draft('psale', { stage: 'prod' }, bytes('one')), bytes('one'));
    const b = await store.publish(draft('psale', { stage: 'prod' }, bytes('two')), bytes('two'));
    const c = await store.publish(draft('other', {}, bytes('one')), bytes('one'));
    expect([a.version, b.version, c.version]).toEqual([1, 2, 1]);
    const v1 = await readFile(join(store.root, 'envelopes/psale/1.json'), 'utf8');
    // Same bytes again: a new version, the old file unchanged, the artifact stored once.
    const d = await store.publish(draft('psale', { stage: 'prod' }, bytes('one')), bytes('one'));
    expect(d.version).toBe(3);
    expect(await readFile(join(store.root, 'envelopes/psale/1.json'), 'utf8')).toBe(v1);
    expect((await readdir(join(store.root, 'artifacts'))).sort()).toEqual([sha256Hex(bytes('one')), sha256Hex(bytes('two'))].sort());
  });

  it('gives concurrent publishes distinct versions, even from two store objects on one folder', async () => {
    const store = await newStore();
    const other = await RegistryStore.open(store.root);
    const all = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? store : other).publish(draft('psale', {}, bytes(`m${i}`)), bytes(`m${i}`))));
    expect(all.map((e) => e.version).sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('checks the sha256 before writing anything', async () => {
    const store = await newStore();
    const before = await snapshot(store.root);
    await expect(store.publish(draft('psale', {}, bytes('good')), bytes('evil'))).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
    expect(await snapshot(store.root)).toEqual(before);
  });

  it('refuses an envelope missing required tags, writing nothing', async () => {
    const store = await newStore();
    const d = draft('psale', {}, bytes('x'));
    const bad = { ...d, index: { name: 'psale' } } as unknown as EnvelopeDraft;
    await expect(store.publish(bad, bytes('x'))).rejects.toMatchObject({ code: 'ENVELOPE_INVALID', message: expect.stringContaining('description') });
    expect(await snapshot(store.root)).toEqual([]);
  });

  it('answers tag queries newest first, and resolves pinned versions and aliases', async () => {
    const store = await newStore();
    await store.publish(draft('psale', { stage: 'prod' }, bytes('1')), bytes('1'));
    await store.publish(draft('psale', { stage: 'dev' }, bytes('2')), bytes('2'));
    await store.publish(draft('psale', { stage: 'prod', team: 'recs' }, bytes('3')), bytes('3'));
    await store.publish(draft('ctr', { stage: 'prod' }, bytes('4')), bytes('4'));
    const v = (list: { name: string; version: number }[]): string[] => list.map((s) => `${s.name}@${s.version}`);
    expect(v(store.query('name=psale,stage=prod'))).toEqual(['psale@3', 'psale@1']);
    expect(v(store.query('stage=prod'))).toEqual(['ctr@1', 'psale@3', 'psale@1']);
    expect(v(store.query('name=psale,stage!=prod'))).toEqual(['psale@2']);
    expect(v(store.query('name in (ctr|nope)'))).toEqual(['ctr@1']);
    // An `in` over several values merges their postings newest first.
    expect(v(store.query('stage in (prod|dev)'))).toEqual(['ctr@1', 'psale@3', 'psale@2', 'psale@1']);
    expect(v(store.query('stage in (dev|prod)', { limit: 2, offset: 1 }))).toEqual(['psale@3', 'psale@2']);
    expect(store.pick({ query: 'stage in (prod|dev),name=psale', version: 2 })?.version).toBe(2);
    expect(v(store.query('team'))).toEqual(['psale@3']);
    expect(v(store.query('name=psale,!team'))).toEqual(['psale@2', 'psale@1']);
    expect(v(store.query('stage=prod', { limit: 1, offset: 1 }))).toEqual(['psale@3']);
    expect((await store.resolve({ query: { name: 'psale', stage: 'prod' } })).version).toBe(3);
    expect((await store.resolve({ query: 'name=psale,stage=prod', version: 1 })).version).toBe(1);
    await expect(store.resolve({ query: 'name=psale,stage=prod', version: 2 })).rejects.toMatchObject({ code: 'ENVELOPE_NOT_FOUND' });
    expect((await store.resolve({ name: 'psale', version: 2 })).index['stage']).toBe('dev');
    await store.setAlias('psale', 'champion', 1);
    expect((await store.resolve({ name: 'psale', alias: 'champion' })).version).toBe(1);
    await store.setAlias('psale', 'champion', 3);
    expect((await store.resolve({ name: 'psale', alias: 'champion' })).version).toBe(3);
    await expect(store.setAlias('psale', 'champion', 9)).rejects.toMatchObject({ code: 'ENVELOPE_NOT_FOUND' });
    await expect(store.setAlias('psale', '../x', 1)).rejects.toMatchObject({ code: 'NAME_INVALID' });
    // A fresh store over the same folder sees the same answers.
    const again = await RegistryStore.open(store.root);
    expect(v(again.query('name=psale,stage=prod'))).toEqual(['psale@3', 'psale@1']);
    expect(again.aliases('psale')).toEqual({ champion: 3 });
  });

  it('adds metrics to a published version without replacing any, and checks them', async () => {
    const store = await newStore();
    await store.publish({ ...draft('psale', {}, bytes('m')), metrics: { auc: 0.7 } }, bytes('m'));
    const env = await store.addMetrics('psale', 1, { logloss: 0.4, hist: { type: 'histogram', edges: [0, 1], counts: [3] } });
    expect(Object.keys(env.metrics).sort()).toEqual(['auc', 'hist', 'logloss']);
    await expect(store.addMetrics('psale', 1, { auc: 0.9 })).rejects.toMatchObject({ code: 'METRIC_CONFLICT' });
    await expect(store.addMetrics('psale', 1, { roc: { type: 'roc_curve', fpr: [0] } })).rejects.toMatchObject({ code: 'METRIC_INVALID' });
    expect((await store.get('psale', 1)).metrics['auc']).toBe(0.7);
  });

  it('verifies artifacts when reading them back', async () => {
    const store = await newStore();
    const env = await store.publish(draft('psale', {}, bytes('payload')), bytes('payload'));
    expect(new TextDecoder().decode(await store.readArtifact(env.function.artifact.sha256))).toBe('payload');
    await writeFile(join(store.root, 'artifacts', env.function.artifact.sha256), 'tampered');
    await expect(store.readArtifact(env.function.artifact.sha256)).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
    await expect(store.readArtifact('f'.repeat(64))).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
    await expect(store.readArtifact('../../etc/passwd')).rejects.toMatchObject({ code: 'NAME_INVALID' });
  });

  it('keeps names inside the root: no "..", absolute paths or symlinks out', async () => {
    const store = await newStore();
    expect(() => inside(store.root, '..', 'x')).toThrow(expect.objectContaining({ code: 'NAME_INVALID' }));
    expect(() => inside(store.root, '/etc/passwd')).toThrow(expect.objectContaining({ code: 'NAME_INVALID' }));
    expect(() => inside(store.root, 'envelopes/../../x')).toThrow(expect.objectContaining({ code: 'NAME_INVALID' }));
    await expect(store.publish(draft('../evil', {}, bytes('x')), bytes('x'))).rejects.toMatchObject({ code: 'NAME_INVALID' });
    await expect(store.get('..', 1)).rejects.toMatchObject({ code: 'NAME_INVALID' });
    // A symlinked artifact pointing outside is refused, not followed.
    const outside = join(await tempDir(), 'secret');
    roots.push(join(outside, '..'));
    await writeFile(outside, 'secret');
    const sha = sha256Hex(bytes('secret'));
    await symlink(outside, join(store.root, 'artifacts', sha));
    await expect(store.readArtifact(sha)).rejects.toMatchObject({ code: 'ARTIFACT_UNSAFE' });
    // A symlinked envelope file is skipped at scan and reported.
    await mkdir(join(store.root, 'envelopes', 'linked'), { recursive: true });
    const envFile = join(outside, '..', '1.json');
    const published = await store.publish(draft('real', {}, bytes('r')), bytes('r'));
    await writeFile(envFile, JSON.stringify({ ...published, name: 'linked', index: { ...published.index, name: 'linked' } }));
    await symlink(envFile, join(store.root, 'envelopes', 'linked', '1.json'));
    const fresh = await RegistryStore.open(store.root);
    expect(fresh.versions('linked')).toEqual([]);
  });

  it('skips invalid envelope files at scan and reports them', async () => {
    const store = await newStore();
    await mkdir(join(store.root, 'envelopes', 'junk'), { recursive: true });
    await writeFile(join(store.root, 'envelopes', 'junk', '1.json'), '{"not": "an envelope"}');
    const fresh = await RegistryStore.open(store.root);
    expect(fresh.size).toBe(0);
    expect(fresh.problems.join()).toMatch(/envelopes\/junk\/1.json/);
  });
});
