/**
 * A registry watch that retried or polled added one 'abort' listener to its AbortSignal per wait and
 * never removed it: with the registry down (or a registry that only polls), an engine grew by one
 * listener per model per second, for ever, and printed MaxListenersExceededWarning after ten.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../registry-client/client.js';

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('registry watch waits', () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => { warnings.push(w); };
  afterEach(() => { process.off('warning', onWarning); warnings.length = 0; });

  it('leave no abort listener behind while the registry is down', async () => {
    process.on('warning', onWarning);
    const client = new RegistryClient({ url: `http://127.0.0.1:${await closedPort()}`, cacheDir: '/tmp/airmail-test-unused-cache' });
    let errors = 0;
    const w = client.watch({ query: 'name=x' }, () => undefined, { since: null, pollMs: 2, onError: () => { errors++; } });
    const until = Date.now() + 3000;
    while (errors < 40 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    w.close();
    await w.closed;
    await client.close();
    await new Promise((r) => setImmediate(r));
    expect(errors).toBeGreaterThanOrEqual(40);
    expect(warnings.filter((x) => x.name === 'MaxListenersExceededWarning').map((x) => x.message)).toEqual([]);
  });
});
