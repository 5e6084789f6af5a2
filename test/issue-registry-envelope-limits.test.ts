/**
 * A publish had no limit on the size of its envelope: a client could store a version with 100,000
 * (or a million) tags, each a posting that tag queries scan, thousands of metrics, or statistics of
 * thousands of sample columns, by the CLI and by POST /envelopes. Each is now refused with a 422
 * naming the limit, its maximum and the count sent, and nothing is stored; the limits are in the
 * README. An envelope at the limits still publishes.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot, startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { ENVELOPE_LIMITS } from '../engine/registry/limits.js';
import { airmailCli } from './helpers.js';

let reg: RunningRegistry;
beforeAll(async () => { reg = await startRegistry(); });
afterAll(async () => { await reg.close(); });

const JS = 'export function predict(c, n) { return { y: Float64Array.from({ length: n }, () => 1) }; }\n';
type Answer = { status: number; body: { code?: string; reason?: string; version?: number; details?: { limit?: string; max?: number; sent?: number } } };

async function publishJson(extra: Record<string, unknown>): Promise<Answer> {
  const body = JSON.stringify({ artifact: Buffer.from(JS).toString('base64'), flavor: 'js', name: 'm', description: 'd', sample: [{ x: 1 }], ...extra });
  const res = await fetch(`${reg.url}/envelopes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

const many = <T>(n: number, f: (i: number) => T): Record<string, T> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, f(i)]));

describe('an HTTP publish over a size limit is refused, and nothing is stored', () => {
  it.each([
    ['100,000 tags', { tags: many(100_000, () => 'v') }, 'ENVELOPE_INVALID', 'tags', 100_002],
    ['65 tags (name and description count)', { tags: many(ENVELOPE_LIMITS.tags - 1, () => 'v') }, 'ENVELOPE_INVALID', 'tags', 65],
    ['a tag value of 5,000 characters', { tags: { note: 'x'.repeat(5000) } }, 'ENVELOPE_INVALID', 'tagValueChars', 5000],
    ['a description of 5,000 characters', { description: 'd'.repeat(5000) }, 'ENVELOPE_INVALID', 'tagValueChars', 5000],
    ['257 metrics', { metrics: many(257, (i) => i) }, 'METRIC_INVALID', 'metrics', 257],
    ['a curve of 100,000 points', { metrics: { lc: { type: 'learning_curve', steps: Array.from({ length: 100_000 }, (_, i) => i), train: Array.from({ length: 100_000 }, () => 0.123456789) } } }, 'METRIC_INVALID', 'metricsBytes', undefined],
    ['a sample of 4,097 columns', { sample: [many(4097, () => 1)] }, 'SAMPLE_INVALID', 'features', 4097],
  ] as const)('%s', async (_what, extra, code, limit, sent) => {
    const before = await snapshot(reg.root);
    const r = await publishJson(extra as Record<string, unknown>);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe(code);
    expect(r.body.details).toMatchObject({ limit, max: ENVELOPE_LIMITS[limit] });
    if (sent !== undefined) expect(r.body.details?.sent).toBe(sent);
    expect(r.body.reason).toMatch(new RegExp(`^nothing was published: .*${sent ?? ''}.*over the limit of ${ENVELOPE_LIMITS[limit]} \\(${limit}\\)`));
    expect(await snapshot(reg.root)).toEqual(before);
  }, 60_000);

  it('refuses a multipart form of 1,000 tag fields by their count', async () => {
    const f = new FormData();
    f.set('artifact', new Blob([JS]), 'm.mjs');
    for (const [k, v] of Object.entries({ flavor: 'js', name: 'm', description: 'd' })) f.set(k, v);
    for (let i = 0; i < 1000; i++) f.append('tag', `k${i}=v`);
    const before = await snapshot(reg.root);
    const res = await fetch(`${reg.url}/envelopes`, { method: 'POST', body: f });
    const body = (await res.json()) as Answer['body'];
    expect(res.status).toBe(422);
    expect(body).toMatchObject({ code: 'ENVELOPE_INVALID', details: { limit: 'tags', max: ENVELOPE_LIMITS.tags, sent: 1002 } });
    expect(await snapshot(reg.root)).toEqual(before);
  });

  it('publishes at the limits, then refuses added metrics past the count', async () => {
    const ok = await publishJson({ tags: many(ENVELOPE_LIMITS.tags - 2, () => 'v'.repeat(ENVELOPE_LIMITS.tagValueChars)), metrics: many(ENVELOPE_LIMITS.metrics - 1, (i) => i) });
    expect(ok.status).toBe(201);
    const add = (metrics: unknown): Promise<Response> => fetch(`${reg.url}/envelopes/m/${ok.body.version}/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metrics) });
    expect((await add({ last: 1 })).status).toBe(200);
    const before = await snapshot(reg.root);
    const res = await add({ one_more: 1, and_another: 2 });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ code: 'METRIC_INVALID', details: { limit: 'metrics', max: ENVELOPE_LIMITS.metrics, sent: ENVELOPE_LIMITS.metrics + 2 } });
    expect(await snapshot(reg.root)).toEqual(before);
  });
});

describe('airmail publish over a limit', () => {
  it('exits 1 naming the limit, into a folder and to the registry service, storing nothing', async () => {
    const dir = await tempDir('airmail-limits-cli-');
    try {
      await writeFile(join(dir, 'm.mjs'), JS);
      await writeFile(join(dir, 'sample.json'), '[{"x": 1}]');
      await mkdir(join(dir, 'registry'));
      const tags = Array.from({ length: 70 }, (_, i) => ['--tag', `k${i}=v`]).flat();
      for (const to of [join(dir, 'registry'), reg.url]) {
        const root = to === reg.url ? reg.root : to;
        const before = await snapshot(root);
        const r = await airmailCli({ AIRMAIL_USER: 'alice' }, 'publish', '--artifact', join(dir, 'm.mjs'), '--flavor', 'js', '--name', 'm', '--description', 'd', '--sample', join(dir, 'sample.json'), '--registry', to, ...(to === reg.url ? [] : ['--create']), ...tags);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toMatch(/ENVELOPE_INVALID: nothing was published: the envelope index has 73 tags \(name, description, user and team included\), over the limit of 64 \(tags\)/);
        expect(await snapshot(root)).toEqual(before);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
