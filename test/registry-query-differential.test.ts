/**
 * Differential test of tag queries and resolution: seeded random publish histories (several names,
 * random tags, the same artifact published again, aliases moved, publishes from a second process's
 * view of the folder) into a real registry folder served over HTTP, then random queries, each
 * answered by GET /envelopes, GET /resolve, the undici client, the file:// reader and `airmail
 * registry query`, compared with test/registry-query-reference.ts (the README's words): the result
 * set, its order, the newest match, and the errors with their codes and statuses.
 */
import { rm } from 'node:fs/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registryCli } from '../engine/registry/cli.js';
import { ENVELOPE_FORMAT, type EnvelopeDraft } from '../engine/registry/envelope.js';
import { sha256Hex } from '../engine/registry/function.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { RegistryStore } from '../engine/registry/store.js';
import { RegistryClient } from '../registry-client/client.js';
import { FileRegistry } from '../registry-client/file-registry.js';
import { refFormat, refNewestFirst, refParse, refQuery, type RefClause, type RefEnvelope, type RefOp } from './registry-query-reference.js';
import { prng } from './semantics-reference.js';


const NAMES = ['psale', 'trend', 'ctr', 'rank.v2'];
const VALUES: Record<string, string[]> = {
  stage: ['prod', 'dev', 'staging'],
  team: ['a', 'b', 'team, x', ' padded '],
  region: ['eu', 'us', 'p(q)|r'],
  owner: ['alice', 'bob "b"', 'c\\d'],
  fold: ['1', '2', ''],
};
const KEYS = [...Object.keys(VALUES), 'name', 'nokey'];
const ARTIFACTS = ['a', 'b', 'c'].map((s) => new TextEncoder().encode(`export function predict(c, rows) { return { y: new Float64Array(rows).fill(${s.charCodeAt(0)}) }; }\n`));

function draft(name: string, tags: Record<string, string>, bytes: Uint8Array): EnvelopeDraft {
  return {
    format: ENVELOPE_FORMAT,
    name,
    function: { flavor: 'js', artifact: { sha256: sha256Hex(bytes), size: bytes.length }, inputs: [{ name: 'x', type: 'float64' }], outputs: [{ name: 'y', type: 'float64' }] },
    context: { runtime: 'node', runtimeVersion: process.version, language: 'javascript', packages: {} },
    index: { ...tags, name, description: `${name}, model (v)` },
    data: { rows: 0, features: {} },
    metrics: {},
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function randomTags(r: () => number): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const k of Object.keys(VALUES)) if (r() < 0.6) tags[k] = pick(r, VALUES[k]!);
  return tags;
}

function valueFor(r: () => number, key: string): string {
  if (key === 'name') return pick(r, [...NAMES, 'none']);
  return r() < 0.15 ? 'zzz' : pick(r, VALUES[key] ?? ['x']);
}

function randomClause(r: () => number): RefClause {
  const key = pick(r, KEYS);
  const op = pick<RefOp>(r, ['eq', 'eq', 'ne', 'in', 'nin', 'has', 'not']);
  const values = op === 'has' || op === 'not' ? [] : op === 'in' || op === 'nin' ? Array.from({ length: 1 + Math.floor(r() * 3) }, () => valueFor(r, key)) : [valueFor(r, key)];
  return { key, op, values };
}

/** A query string with random (allowed) spacing around its clauses. */
function queryText(r: () => number, clauses: readonly RefClause[]): string {
  const sp = (): string => (r() < 0.3 ? ' ' : '');
  return clauses.map((c) => `${sp()}${refFormat(c)}${sp()}`).join(',');
}

/** Mutations that make a query malformed (the reference decides which really are). */
function mangle(r: () => number, text: string): string {
  const cuts = [
    (t: string) => `${t},`, (t: string) => `,${t}`, (t: string) => `${t})`, (t: string) => `${t}"`, (t: string) => `${t},,x`,
    (t: string) => t.replace('(', ''), (t: string) => t.replace(')', ''), (t: string) => `=${t}`, (t: string) => `${t} extra`,
    (t: string) => `${t},k in (a|b`, (t: string) => `${t},!k=v`, (t: string) => `${t},k=v=w`, (t: string) => `${t},ké=v`,
  ];
  return pick(r, cuts)(text);
}

const label = (e: { name: string; version: number }): string => `${e.name}@${e.version}`;

let reg: RunningRegistry;
let root: string;
/** Another process's view of the same folder (its own store object): publishes from there too. */
let other: RegistryStore;
let reader: FileRegistry;
let client: RegistryClient;

beforeAll(async () => {
  root = await tempDir('airmail-qdiff-');
  reg = await startRegistry({ root });
  other = await RegistryStore.open(root);
  reader = await FileRegistry.open(root);
  client = new RegistryClient({ url: reg.url, cacheDir: `${root}-cache` });
});
afterAll(async () => {
  await client?.close();
  await reg?.close();
  await rm(root, { recursive: true, force: true });
  await rm(`${root}-cache`, { recursive: true, force: true });
});

async function getJson(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${reg.url}${path}`);
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await registryCli(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('tag queries against the README reference', () => {
  const published: RefEnvelope[] = [];
  const aliases = new Map<string, number>();

  it('publishes a seeded history through both stores and the alias route', async () => {
    const r = prng(20240611);
    for (let i = 0; i < 70; i++) {
      const name = pick(r, NAMES);
      const bytes = pick(r, ARTIFACTS);
      const store = r() < 0.3 ? other : reg.store;
      const env = await store.publish(draft(name, randomTags(r), bytes), bytes);
      published.push({ name: env.name, version: env.version, publishedAt: env.publishedAt, index: { ...env.index } });
      if (r() < 0.15) {
        const mine = published.filter((e) => e.name === name);
        const target = pick(r, mine).version;
        const res = await request(`${reg.url}/aliases/${name}/champion`, { method: 'PUT', body: JSON.stringify({ version: target }), headers: { 'content-type': 'application/json' } });
        expect(res.statusCode).toBe(200);
        await res.body.dump();
        aliases.set(name, target);
      }
    }
    // Versions per name are 1..n, each once, whichever store published them.
    for (const n of NAMES) {
      const vs = published.filter((e) => e.name === n).map((e) => e.version).sort((a, b) => a - b);
      expect(vs).toEqual(vs.map((_, i) => i + 1));
    }
    // The serving store picks up the other process's publishes (as `registry serve` does on its refresh timer).
    await reg.store.refresh();
    await other.refresh();
  });

  it('answers every view of the folder in the same newest-first order', async () => {
    const expected = refNewestFirst(published).map(label);
    const http = (await getJson('/envelopes?limit=1000')).body.envelopes as RefEnvelope[];
    expect(http.map(label)).toEqual(expected);
    expect(other.query('', { limit: 1000 }).map(label)).toEqual(expected);
    expect((await reader.query('', { limit: 1000 })).map(label)).toEqual(expected);
    const reopened = await RegistryStore.open(root);
    expect(reopened.query('', { limit: 1000 }).map(label)).toEqual(expected);
    // The default page is 100.
    expect(((await getJson('/envelopes')).body.envelopes as RefEnvelope[]).length).toBe(Math.min(100, published.length));
  });

  it('matches the reference on random queries: sets, order, limit/offset, resolve', async () => {
    const r = prng(7);
    let nonEmpty = 0;
    for (let i = 0; i < 150; i++) {
      const clauses = Array.from({ length: 1 + Math.floor(r() * 3) }, () => randomClause(r));
      const text = queryText(r, clauses);
      const parsed = refParse(text);
      expect(parsed, text).not.toBe('invalid');
      const limit = r() < 0.3 ? 1 + Math.floor(r() * 5) : 100;
      const offset = r() < 0.2 ? Math.floor(r() * 3) : 0;
      const want = refQuery(published, parsed as RefClause[], limit, offset).map(label);
      if (want.length) nonEmpty++;
      const http = await getJson(`/envelopes?${new URLSearchParams({ q: text, limit: String(limit), offset: String(offset) })}`);
      expect(http.status, text).toBe(200);
      expect((http.body.envelopes as RefEnvelope[]).map(label), text).toEqual(want);
      expect((await reader.query(text, { limit, offset })).map(label), text).toEqual(want);
      expect((await client.query(text, { limit, offset })).map(label), text).toEqual(want);

      const all = refQuery(published, parsed as RefClause[], 1000);
      const res = await getJson(`/resolve?${new URLSearchParams({ q: text })}`);
      if (all.length) {
        expect(res.status, text).toBe(200);
        expect(label(res.body as unknown as RefEnvelope), text).toBe(label(all[0]!));
      } else {
        expect([res.status, res.body.code], text).toEqual([404, 'ENVELOPE_NOT_FOUND']);
      }
      // Pinned: a version of the answer, or one that does not match.
      const v = 1 + Math.floor(r() * 8);
      const pinned = all.filter((e) => e.version === v);
      const pres = await getJson(`/resolve?${new URLSearchParams({ q: text, version: String(v) })}`);
      if (pinned.length) expect(label(pres.body as unknown as RefEnvelope), `${text} @${v}`).toBe(label(pinned[0]!));
      else expect([pres.status, pres.body.code], `${text} @${v}`).toEqual([404, 'ENVELOPE_NOT_FOUND']);

      if (i % 15 === 0) {
        const c = await cli(['registry', 'query', '--registry', root, text, '--limit', '1000']);
        expect(c.code, c.err.join('\n')).toBe(0);
        expect(c.out.map((l) => label(JSON.parse(l) as RefEnvelope)), text).toEqual(all.map(label));
      }
    }
    expect(nonEmpty).toBeGreaterThan(40);
  });

  it('resolves aliases and pinned versions by name', async () => {
    for (const n of NAMES) {
      const alias = aliases.get(n);
      const a = await getJson(`/resolve?name=${n}&alias=champion`);
      if (alias === undefined) expect([a.status, a.body.code]).toEqual([404, 'ENVELOPE_NOT_FOUND']);
      else expect(label(a.body as unknown as RefEnvelope)).toBe(`${n}@${alias}`);
      const byPath = await getJson(`/envelopes/${n}/champion`);
      expect(byPath.status).toBe(alias === undefined ? 404 : 200);
      const newest = refQuery(published, [{ key: 'name', op: 'eq', values: [n] }], 1)[0]!;
      const byName = await getJson(`/resolve?name=${n}`);
      expect(label(byName.body as unknown as RefEnvelope)).toBe(label(newest));
      const c = await cli(['registry', 'resolve', '--registry', reg.url, '--name', n, '--version', '1']);
      expect(c.code, c.err.join('\n')).toBe(0);
      expect(label(JSON.parse(c.out.join('\n')) as RefEnvelope)).toBe(`${n}@1`);
    }
  });

  it('refuses malformed queries with 400 QUERY_INVALID (exit 2 in the CLI) exactly when the reference does', async () => {
    const r = prng(99);
    let invalid = 0;
    for (let i = 0; i < 80; i++) {
      const text = mangle(r, queryText(r, Array.from({ length: 1 + Math.floor(r() * 2) }, () => randomClause(r))));
      const ref = refParse(text);
      const http = await getJson(`/envelopes?${new URLSearchParams({ q: text })}`);
      if (ref === 'invalid') {
        invalid++;
        expect([http.status, http.body.code], text).toEqual([400, 'QUERY_INVALID']);
        const res = await getJson(`/resolve?${new URLSearchParams({ q: text })}`);
        expect([res.status, res.body.code], text).toEqual([400, 'QUERY_INVALID']);
        if (i % 10 === 0) expect((await cli(['registry', 'query', '--registry', root, text])).code, text).toBe(2);
      } else {
        expect(http.status, text).toBe(200);
        expect((http.body.envelopes as RefEnvelope[]).map(label), text).toEqual(refQuery(published, ref).map(label));
      }
    }
    expect(invalid).toBeGreaterThan(40);
  });
});

describe('newest publish first is one order in every view of a folder', () => {
  const views = async (store: RegistryStore, folder: string): Promise<string[][]> => {
    await store.refresh();
    const reader = await FileRegistry.open(folder);
    const reopened = await RegistryStore.open(folder);
    return [store.query('').map(label), (await reader.query('')).map(label), reopened.query('').map(label)];
  };

  it('orders publishes within one millisecond, and after a publisher whose clock is ahead, as they were published', async () => {
    const folder = await tempDir('airmail-qorder-');
    try {
      const store = await RegistryStore.open(folder, { create: true });
      const ahead = await RegistryStore.open(folder);
      const bytes = ARTIFACTS[0]!;
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2030-01-01T00:00:00.000Z'));
      // Same millisecond, names in reverse alphabetical order: the later publish is the newer.
      await store.publish(draft('zeta', { stage: 'prod' }, bytes), bytes);
      await store.publish(draft('alpha', { stage: 'prod' }, bytes), bytes);
      // A second publisher with its clock 10 s ahead, then this one again: this one is the newest.
      vi.setSystemTime(new Date('2030-01-01T00:00:10.000Z'));
      await ahead.publish(draft('mid', { stage: 'prod' }, bytes), bytes);
      vi.setSystemTime(new Date('2030-01-01T00:00:00.500Z'));
      const last = await store.publish(draft('beta', { stage: 'prod' }, bytes), bytes);
      vi.useRealTimers();
      const want = ['beta@1', 'mid@1', 'alpha@1', 'zeta@1'];
      for (const view of await views(store, folder)) expect(view).toEqual(want);
      expect(label(await store.resolve({ query: 'stage=prod' }))).toBe(label(last));
      expect(label((await RegistryStore.open(folder)).pick({ query: 'stage=prod' })!)).toBe('beta@1');
    } finally {
      vi.useRealTimers();
      await rm(folder, { recursive: true, force: true });
    }
  });

  it('points an alias at a version another process published since the last refresh', async () => {
    const folder = await tempDir('airmail-qalias-');
    try {
      const serving = await RegistryStore.open(folder, { create: true });
      const cliStore = await RegistryStore.open(folder);
      const bytes = ARTIFACTS[1]!;
      await cliStore.publish(draft('psale', {}, bytes), bytes);
      await serving.setAlias('psale', 'champion', 1);
      expect(serving.pick({ name: 'psale', alias: 'champion' })?.version).toBe(1);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
