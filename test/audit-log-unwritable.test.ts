/**
 * An audit log that cannot be written used to be found out at the first admin request, as one
 * warning (every change until then unaudited, and an operator told nothing at start). Under /proc
 * it was worse: Node's recursive mkdir there never returns, so the log never wrote and SIGTERM
 * never finished, the process spinning at 100 % CPU. The start now fails with the reason.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoConfigs, ROOT, server, tempDir } from './helpers.js';

describe('--audit-log that cannot be written', () => {
  it('fails the start, naming the file and why', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a-file'), '');
    const path = join(dir, 'a-file', 'audit.jsonl');
    await expect(server({ configs: await demoConfigs(), threads: 1, auditLog: path, watch: false })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(new RegExp(`^cannot write the audit log ${path}: ENOTDIR`)),
    });
  });

  it('under /proc, airmail serve exits 1 with the reason instead of hanging', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'serve', '--port', '0', '--host', '127.0.0.1', '--threads', '1', '--audit-log', '/proc/airmail-nope/audit.jsonl'], {
      env: { ...process.env, AIRMAIL_FROM_SOURCE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => void (err += b.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 20_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code).toBe(1);
    expect(err).toContain('cannot write the audit log /proc/airmail-nope/audit.jsonl');
  }, 30_000);
});
