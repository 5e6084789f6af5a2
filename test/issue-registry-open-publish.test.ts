/**
 * `airmail registry serve --host 0.0.0.0` without AIRMAIL_ADMIN_TOKEN started, and anyone who could
 * reach it could publish: a js envelope is code every engine that deploys it runs, with the engine's
 * privileges (files, network, subprocesses). A registry listening beyond loopback now needs the token;
 * and `--port abc` was not refused.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCli } from '../engine/registry/cli.js';
import { tempDir } from '../engine/registry/fixtures.js';

let dir: string;
const saved = process.env['AIRMAIL_ADMIN_TOKEN'];
beforeAll(async () => { dir = await tempDir('airmail-open-publish-'); });
afterAll(async () => {
  if (saved === undefined) delete process.env['AIRMAIL_ADMIN_TOKEN']; else process.env['AIRMAIL_ADMIN_TOKEN'] = saved;
  await rm(dir, { recursive: true, force: true });
});

async function serve(token: string | undefined, ...args: string[]): Promise<{ code: number; err: string; url?: string }> {
  if (token === undefined) delete process.env['AIRMAIL_ADMIN_TOKEN']; else process.env['AIRMAIL_ADMIN_TOKEN'] = token;
  const err: string[] = [];
  let url: string | undefined;
  let stop!: () => void;
  const stopped = new Promise<void>((r) => { stop = r; });
  const code = await registryCli(['registry', 'serve', '--root', join(dir, 'reg'), '--port', '0', ...args], {
    out: () => undefined, err: (l) => err.push(l), stop: stopped, onListening: (u) => { url = u; stop(); },
  });
  return { code, err: err.join('\n'), ...(url ? { url } : {}) };
}

describe('airmail registry serve', () => {
  it.each([[undefined], [''], [' \n']])('on 0.0.0.0 without a token (%j) refuses to start, saying why', async (token) => {
    const r = await serve(token, '--host', '0.0.0.0');
    expect(r.code).toBe(2);
    expect(r.url).toBeUndefined();
    expect(r.err).toMatch(/without AIRMAIL_ADMIN_TOKEN anyone who reaches the registry could publish/);
  });

  it('on 0.0.0.0 with a token, and on loopback without one, it serves', async () => {
    expect((await serve('t0ken', '--host', '0.0.0.0')).code).toBe(0);
    const local = await serve(undefined);
    expect(local.code).toBe(0);
    expect(local.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('--port that is not a port is a usage error', async () => {
    const r = await serve('t0ken', '--port', 'abc');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--port must be a port number/);
  });

  it('--refresh-ms that is not a number is a usage error, not a registry that never refreshes', async () => {
    const r = await serve('t0ken', '--refresh-ms', 'abc');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--refresh-ms must be a whole number of milliseconds/);
  });
});
