/**
 * A real redis-server for tests: a child process on a free loopback port, no
 * persistence, stopped with the test. pause()/resume() send SIGSTOP/SIGCONT,
 * which keeps the TCP socket open but answers nothing — the "blackholed Redis"
 * case that a refused connection does not exercise.
 *
 * Without redis-server installed, `redisOrSkip()` fails under CI (Redis tests
 * must run there) and otherwise returns false so the suite skips with a reason.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, join } from 'node:path';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** SIGTERM (after SIGCONT if paused) and wait for exit. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGSTOP: the socket stays open, no command is answered. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGKILL and wait for exit: connections drop at once. */
  kill(): Promise<void>;
}

export interface StartRedisOptions {
  /** Reuse a port (e.g. to restart a killed server where clients expect it). */
  readonly port?: number;
  /** Wait this long for PING to answer. */
  readonly readyTimeoutMs?: number;
}

export const REDIS_SERVER_BIN = findRedisServer();
export const HAS_REDIS = REDIS_SERVER_BIN !== undefined;

/** True when Redis tests can run; throws under CI when they cannot. */
export function redisOrSkip(): boolean {
  if (HAS_REDIS) return true;
  if (process.env['CI']) throw new Error('redis-server is not installed: CI must run the Redis tests (apt-get install redis-server)');
  console.warn('skipping Redis tests: redis-server is not installed (set REDIS_SERVER or install the redis-server package)');
  return false;
}

function findRedisServer(): string | undefined {
  const explicit = process.env['REDIS_SERVER'];
  if (explicit) return existsSync(explicit) ? explicit : undefined;
  for (const dir of (process.env['PATH'] ?? '').split(delimiter).concat(['/usr/bin', '/usr/local/bin', '/usr/sbin'])) {
    if (dir && existsSync(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  }
  return undefined;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A crashed test run must not leave (possibly SIGSTOP'd) servers behind.
  process.once('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host: '127.0.0.1' });
    let data = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
    sock.on('error', () => done(false));
  });
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  if (!REDIS_SERVER_BIN) throw new Error('redis-server is not installed (set REDIS_SERVER or install the redis-server package)');
  const attempts = opts.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await startOnce(REDIS_SERVER_BIN, opts.port ?? (await freePort()), opts.readyTimeoutMs ?? 5000);
    } catch (err) {
      lastError = err; // most likely another process took the port between probe and bind
    }
  }
  throw lastError;
}

async function startOnce(bin: string, port: number, readyTimeoutMs: number): Promise<RedisServer> {
  installExitHook();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'];
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-2000);
  });
  child.once('exit', () => live.delete(child));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => undefined);

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited during start (code ${child.exitCode}, signal ${child.signalCode}): ${stderr.trim()}`);
    }
    const ok = await Promise.race([ping(port, 200), spawnError]);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer PING on port ${port} within ${readyTimeoutMs} ms: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }

  const pid = child.pid ?? -1;
  const signal = (sig: NodeJS.Signals): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    async stop() {
      signal('SIGCONT');
      signal('SIGTERM');
      await waitExit(child);
    },
    async kill() {
      signal('SIGKILL');
      await waitExit(child);
    },
  };
}
