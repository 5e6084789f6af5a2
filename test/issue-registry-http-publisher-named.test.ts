/**
 * A publish over HTTP could not say who made it: every publisher shared AIRMAIL_ADMIN_TOKEN, and the
 * `user` tag was whatever the request claimed, so a platform team could not audit who published a
 * version. With AIRMAIL_PUBLISHER_TOKENS (name:token entries) each publisher has a token of their
 * own; a publish made with one records `published_by: NAME` in the envelope's index, which no
 * request can set itself. The shared admin token still works, recording no publisher.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot, startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { registryCli } from '../engine/registry/cli.js';
import { parsePublisherTokens } from '../engine/registry/publishers.js';
import { airmailCli } from './helpers.js';

const JS = 'export function predict(c) { return { y: c.x }; }\n';
let reg: RunningRegistry;
beforeAll(async () => { reg = await startRegistry({ adminToken: 'shared-admin', publisherTokens: 'alice:tok-alice,\nbob:tok-bob\n' }); });
afterAll(async () => { await reg.close(); });

async function publish(token: string | undefined, tags: string[] = []): Promise<{ status: number; body: { code?: string; reason?: string; version?: number; index?: Record<string, string> } }> {
  const f = new FormData();
  f.set('artifact', new Blob([JS]), 'm.mjs');
  for (const [k, v] of Object.entries({ flavor: 'js', name: 'm', description: 'd', sample: '[{"x": 1}]' })) f.set(k, v);
  for (const t of tags) f.append('tag', t);
  const res = await fetch(`${reg.url}/envelopes`, { method: 'POST', body: f, ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
  return { status: res.status, body: (await res.json()) as { code?: string } };
}

describe('an HTTP publish names its publisher', () => {
  it('records published_by from the publisher token, none for the shared admin token', async () => {
    const a = await publish('tok-alice', ['user=alice']);
    expect(a.status).toBe(201);
    expect(a.body.index).toMatchObject({ published_by: 'alice', user: 'alice' });
    const b = await publish('tok-bob');
    expect(b.body.index?.published_by).toBe('bob');
    const admin = await publish('shared-admin');
    expect(admin.status).toBe(201);
    expect(admin.body.index).not.toHaveProperty('published_by');
    // The tag is queryable like any other.
    const listed = (await (await fetch(`${reg.url}/envelopes?q=published_by=alice`)).json()) as { envelopes: { version: number }[] };
    expect(listed.envelopes.map((e) => e.version)).toEqual([a.body.version]);
  });

  it('refuses a published_by tag in the request, and a wrong or missing token, storing nothing', async () => {
    const before = await snapshot(reg.root);
    const forged = await publish('tok-bob', ['published_by=alice']);
    expect(forged.status).toBe(422);
    expect(forged.body).toMatchObject({ code: 'ENVELOPE_INVALID', reason: expect.stringMatching(/tag 'published_by' is set by the registry from the publisher's token/) });
    expect((await publish('shared-admin', ['published_by=alice'])).status).toBe(422);
    for (const t of ['tok-carol', undefined]) {
      const r = await publish(t);
      expect(r.status).toBe(401);
      expect(r.body.reason).toMatch(/AIRMAIL_ADMIN_TOKEN or a publisher's token from AIRMAIL_PUBLISHER_TOKENS/);
    }
    expect(await snapshot(reg.root)).toEqual(before);
  });

  it('airmail publish sends the publisher token as AIRMAIL_ADMIN_TOKEN and the envelope names them', async () => {
    const dir = await tempDir('airmail-publisher-cli-');
    try {
      await writeFile(join(dir, 'm.mjs'), JS);
      await writeFile(join(dir, 'sample.json'), '[{"x": 1}]');
      const r = await airmailCli({ AIRMAIL_ADMIN_TOKEN: 'tok-bob', AIRMAIL_USER: 'bob' }, 'publish', '--artifact', join(dir, 'm.mjs'), '--flavor', 'js', '--name', 'cli_m', '--description', 'd', '--sample', join(dir, 'sample.json'), '--registry', reg.url);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ name: 'cli_m', version: 1 });
      expect(await (await fetch(`${reg.url}/envelopes/cli_m/1`)).json()).toMatchObject({ index: { published_by: 'bob', user: 'bob' } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('refuses malformed AIRMAIL_PUBLISHER_TOKENS entries without echoing a token', () => {
    expect(parsePublisherTokens('a:1, b:2').map((t) => t.name)).toEqual(['a', 'b']);
    expect(() => parsePublisherTokens('alice:1,s3cret')).toThrow(/entry 2 is not name:token/);
    expect(() => parsePublisherTokens('alice:1,s3cret')).not.toThrow(/s3cret/);
    expect(() => parsePublisherTokens('a:1,a:2')).toThrow(/names publisher 'a' twice/);
    expect(() => parsePublisherTokens('../x:1')).toThrow(/entry 1/);
  });
});

describe('airmail registry serve with AIRMAIL_PUBLISHER_TOKENS', () => {
  async function serve(tokens: string, ...args: string[]): Promise<{ code: number; err: string }> {
    const saved = { admin: process.env['AIRMAIL_ADMIN_TOKEN'], publishers: process.env['AIRMAIL_PUBLISHER_TOKENS'] };
    delete process.env['AIRMAIL_ADMIN_TOKEN'];
    process.env['AIRMAIL_PUBLISHER_TOKENS'] = tokens;
    const dir = await tempDir('airmail-publisher-serve-');
    try {
      const err: string[] = [];
      let stop!: () => void;
      const stopped = new Promise<void>((r) => { stop = r; });
      const code = await registryCli(['registry', 'serve', '--root', join(dir, 'reg'), '--port', '0', ...args], { out: () => undefined, err: (l) => err.push(l), stop: stopped, onListening: () => stop() });
      return { code, err: err.join('\n') };
    } finally {
      for (const [k, v] of [['AIRMAIL_ADMIN_TOKEN', saved.admin], ['AIRMAIL_PUBLISHER_TOKENS', saved.publishers]] as const) if (v === undefined) delete process.env[k]; else process.env[k] = v;
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('serves beyond loopback with publisher tokens alone; a malformed entry is a usage error naming it, not the token', async () => {
    expect((await serve('alice:tok-a', '--host', '0.0.0.0')).code).toBe(0);
    const bad = await serve('alice:tok-a,s3cret');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/AIRMAIL_PUBLISHER_TOKENS entry 2 is not name:token/);
    expect(bad.err).not.toMatch(/s3cret|tok-a/);
  });
});
