/**
 * Regression (registry kept alive by watchers): with an engine watching, SIGTERM stopped the listener
 * but the open event stream kept `airmail registry serve` alive for as long as the watcher stayed.
 * It now ends open watches and exits with 0 at once; the watcher reconnects to the next registry.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../registry-client/client.js';
import type { Envelope } from '../engine/registry/envelope.js';
import { tempDir } from '../engine/registry/fixtures.js';
import { ROOT } from './helpers.js';

const PORT = 18751;
const URL_ = `http://127.0.0.1:${PORT}`;

async function startCli(root: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'registry', 'serve', '--root', root, '--port', String(PORT)], { cwd: ROOT, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('listening')) resolve(); });
    child.on('exit', (code) => reject(new Error(`registry exited (${code}) before listening: ${out}`)));
  });
  return child;
}

let dir: string;
beforeAll(async () => { dir = await tempDir('airmail-registry-stop-'); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('airmail registry serve with an engine watching', () => {
  it('exits with 0 on SIGTERM, and the watcher follows the next registry', async () => {
    const root = join(dir, 'registry');
    let child = await startCli(root);
    const client = new RegistryClient({ url: URL_, cacheDir: join(dir, 'cache') });
    const seen: (Envelope | null)[] = [];
    const errors: string[] = [];
    const watch = client.watch({ query: 'name=w' }, (e) => seen.push(e), { since: null, pollMs: 50, onError: (e) => errors.push(e.message) });
    // A second, raw event stream: once its first event arrives, the watch connection is certainly open.
    const stream = await fetch(`${URL_}/watch/events?q=name%3Dw`, { headers: { accept: 'text/event-stream' } });
    const reader = stream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('event: change');
    try {
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
      child = await startCli(root);
      const published = await client.publish({ artifact: new TextEncoder().encode('export function predict(c) { return { y: c.x }; }'), flavor: 'js', name: 'w', description: 'x', sample: [{ x: 1 }] });
      while (!seen.some((e) => e?.version === published.version)) await new Promise((r) => setTimeout(r, 20));
      expect(watch.mode).toBe('sse');
    } finally {
      await reader.cancel().catch(() => undefined);
      watch.close();
      await client.close();
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    }
  }, 40_000);
});
