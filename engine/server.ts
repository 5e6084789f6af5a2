/**
 * Starting and stopping a server: fails fast at start, drains on close
 * (readiness off → HTTP drained → pool → store), safe to close twice.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Engine, type EngineOptions } from './engine.js';
import { createApp } from './http/app.js';
import { formatDiagnostic, type Diagnostic } from './errors.js';

export interface ServerOptions extends EngineOptions {
  readonly port?: number;
  readonly host?: string;
  readonly adminToken?: string;
  readonly bodyLimit?: number;
}

export interface RunningServer {
  readonly engine: Engine;
  readonly url: string;
  readonly port: number;
  readonly startErrors: readonly Diagnostic[];
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const engine = new Engine(opts);
  const startErrors = await engine.start();
  let draining = false;
  const app = createApp(engine, {
    ...(opts.adminToken ? { adminToken: opts.adminToken } : {}),
    ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {}),
    isReady: () => !draining,
  });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: opts.port ?? 8080, hostname: opts.host ?? '0.0.0.0' }, () => resolve(s));
    s.once('error', reject);
  });
  const http = server as Server;
  http.headersTimeout = 10_000;
  http.requestTimeout = 30_000;
  http.keepAliveTimeout = 5_000;
  const port = (http.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    engine,
    port,
    url: `http://127.0.0.1:${port}`,
    startErrors,
    close() {
      closing ??= (async () => {
        draining = true;
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeIdleConnections();
        });
        await engine.close();
      })();
      return closing;
    },
  };
}

export function logDiagnostics(diags: readonly Diagnostic[], write: (s: string) => void = (s) => process.stderr.write(s)): void {
  for (const d of diags) write(`${formatDiagnostic(d)}\n`);
}
