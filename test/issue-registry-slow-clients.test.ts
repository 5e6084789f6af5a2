/**
 * `airmail registry serve` kept Node's default timeouts: a client dribbling its headers (slowloris)
 * held its connection open indefinitely (still open after 15 s in a red-team run), while the engine
 * answers 408 at 10 s. The registry now listens as the engine does (engine/reliability/listen.ts):
 * headers within 10 s, a whole request (an artifact upload) within 5 minutes.
 */
import { connect } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { registryCli } from '../engine/registry/cli.js';

it('a slowloris client of the registry is cut off with a 408 at the headers timeout, and others are served meanwhile', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'airmail-reg-slow-'));
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  let listening!: (url: string) => void;
  const ready = new Promise<string>((r) => (listening = r));
  const running = registryCli(['registry', 'serve', '--root', join(dir, 'reg'), '--port', '0'], {
    out: () => undefined, err: () => undefined, stop: stopped, onListening: (u) => listening(u), timeouts: { headersMs: 300, requestMs: 600 },
  });
  const url = new URL(await ready);
  const timer = setInterval(() => !loris.destroyed && loris.write('X-Slow: 1\r\n'), 50);
  const loris = connect(Number(url.port), url.hostname);
  try {
    loris.on('error', () => undefined);
    let data = '';
    loris.on('data', (b: Buffer) => (data += b.toString()));
    const closed = new Promise<void>((r) => loris.once('close', () => r()));
    loris.write('GET /envelopes HTTP/1.1\r\nHost: x\r\n');
    const ok = await fetch(`${url.origin}/envelopes`);
    expect(ok.status).toBe(200);
    await closed;
    expect(data).toMatch(/^HTTP\/1\.1 408 /);
    expect(data).toMatch(/REQUEST_TIMEOUT/);
  } finally {
    clearInterval(timer);
    loris.destroy();
    stop();
    expect(await running).toBe(0);
  }
}, 20_000);
