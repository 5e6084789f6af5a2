/**
 * The floor: a bare Hono app on @hono/node-server that does what every pipeline
 * request must do at the HTTP layer (parse the JSON body, serialise a JSON
 * answer of the engine's response shape) and nothing else. Each load-test run
 * measures it beside the engine, so "vs floor" ratios come from the same machine
 * and the same minute.
 *
 * Run directly: `node --import tsx loadtest/bare-hono.ts --port 8081`
 * (prints `{"listening":8081}` once ready; SIGTERM closes it).
 */
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { cli } from './args.js';

/** The fixed answer, shaped like an engine response with ten items. */
export const BARE_HONO_BODY = {
  items: Array.from({ length: 10 }, (_, i) => ({ id: `sku-${i + 1}`, score: Math.round((1 - i / 10) * 1000) / 1000 })),
  error: null,
  reason: null,
  pipeline: 'bare-hono',
  version: '0',
  took_ms: 0,
} as const;

export function bareHonoApp(): Hono {
  const app = new Hono();
  app.get('*', (c) => c.json(BARE_HONO_BODY));
  app.post('*', async (c) => {
    const text = await c.req.text();
    if (text.length > 0) {
      try {
        JSON.parse(text);
      } catch {
        return c.json({ ...BARE_HONO_BODY, items: [], error: 'BAD_REQUEST', reason: 'body is not JSON' }, 400);
      }
    }
    return c.json(BARE_HONO_BODY);
  });
  return app;
}

export interface BareHonoProcess {
  pid: number;
  /** Origin, e.g. http://127.0.0.1:40123 */
  url: string;
  /** SIGTERM, then SIGKILL after 3 s; resolves when the child has exited. Safe to call twice. */
  close(): Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url).href.replace(/\/dist\/$/, '/'));

/**
 * Spawns the floor server in its own process (so its CPU and RSS can be sampled
 * apart from the load generator) on `port` (0 = any free port). From .ts sources
 * it runs under tsx; from the build, with plain node.
 */
export function startBareHono(port = 0, startTimeoutMs = 20_000): Promise<BareHonoProcess> {
  const args = SELF.endsWith('.ts') ? ['--import', 'tsx', SELF] : [SELF];
  const child = spawn(process.execPath, [...args, '--port', String(port)], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise<BareHonoProcess>((resolve, reject) => {
    const fail = (why: string): void => {
      void close();
      reject(new Error(`bare Hono server did not start: ${why}`));
    };
    const timer = setTimeout(() => fail(`no "listening" line within ${startTimeoutMs} ms`), startTimeoutMs);
    child.once('error', (err) => fail(err.message));
    const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(`exited early (code ${code}, signal ${signal})`);
    child.once('exit', onEarlyExit);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      const listening = (msg as { listening?: unknown }).listening;
      if (typeof listening !== 'number') return;
      clearTimeout(timer);
      child.off('exit', onEarlyExit);
      lines.close();
      child.stdout.resume();
      resolve({ pid: child.pid!, url: `http://127.0.0.1:${listening}`, close });
    });
  });
}

function runMain(argv: readonly string[]): void {
  // Through cli(): --help and a mistyped flag used to start the server on 8081 anyway.
  const v = cli('node --import tsx loadtest/bare-hono.ts', 'The bare Hono floor: a fixed JSON body on every route; prints {"listening":PORT} once ready, SIGTERM closes it.', {
    port: { type: 'string', default: '8081', number: { min: 0, max: 65535, integer: true }, help: 'port to listen on (0: any free one)' },
  }, argv);
  const port = Number(v.port);
  const app = bareHonoApp();
  const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => {
    process.stdout.write(`${JSON.stringify({ listening: info.port })}\n`);
  });
  if ('keepAliveTimeout' in server) server.keepAliveTimeout = 65_000;
  const stop = (): void => {
    server.close(() => process.exit(0));
    if ('closeAllConnections' in server) server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(SELF);
  } catch {
    return false;
  }
}

if (isMain()) runMain(process.argv.slice(2));
