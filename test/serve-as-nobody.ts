/**
 * `airmail serve` in a child process as an unprivileged user (nobody, when the tests run as root),
 * for tests of folders the server cannot write (a read-only ConfigMap mount): root would write them
 * anyway. `state` is its working and home folder, given to nobody.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chown } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, until } from './helpers.js';

export const NOBODY = 65534;
export const asRoot = process.getuid?.() === 0;

export interface NobodyServer {
  readonly child: ChildProcess;
  readonly url: string;
  /** Its stdout and stderr so far. */
  output(): string;
}

export async function serveAsNobody(configs: string, state: string, opts: { threads: number; env?: Record<string, string> }): Promise<NobodyServer> {
  if (asRoot) await chown(state, NOBODY, NOBODY);
  const child = spawn(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'serve', '--port', '0', '--host', '127.0.0.1', '--threads', String(opts.threads), '--configs', configs], {
    cwd: state,
    env: { ...process.env, AIRMAIL_FROM_SOURCE: '1', AIRMAIL_AUDIT_LOG: join(state, 'audit.jsonl'), HOME: state, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  await until(() => /on http:\/\/localhost:\d+/.test(out) || child.exitCode !== null, 'the server started', 60_000);
  const url = `http://127.0.0.1:${/on http:\/\/localhost:(\d+)/.exec(out)?.[1] ?? `0 (${out})`}`;
  return { child, url, output: () => out };
}
