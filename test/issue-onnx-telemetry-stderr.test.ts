/**
 * onnxruntime-node 1.30 starts a telemetry system that persists a device id under $HOME: in a
 * read-only container (no writable home) every process that loaded an ONNX model printed a coloured
 * "[W:onnxruntime:...] Failed to persist telemetry device ID" line on stderr, amid the JSON log. It
 * has no session or env option for it, but reads ORT_DISABLE_TELEMETRY: engine/ort-env.ts sets it
 * (unless the environment says otherwise) before onnxruntime-node loads. Checked as a user of a
 * read-only container sees it: `airmail validate` and `airmail serve` (a worker thread scoring with
 * the demo's ONNX model) run as nobody with HOME unwritable; ORT_DISABLE_TELEMETRY=0 brings it back.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { ROOT } from './helpers.js';
import { asRoot, NOBODY } from './serve-as-nobody.js';


/** `airmail ARGS` as a user whose home cannot be written; its output, stdout and stderr together. */
function airmail(args: string[], env: Record<string, string> = {}, whileUp?: (url: string) => Promise<void>): Promise<string> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/airmail.mjs'), ...args], {
    cwd: '/',
    env: { ...process.env, AIRMAIL_FROM_SOURCE: '1', HOME: '/nonexistent', AIRMAIL_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((resolve, reject) => {
    let asked = false;
    const check = setInterval(() => {
      const m = /on (http:\/\/localhost:\d+)/.exec(out);
      if (!whileUp || asked || !m) return;
      asked = true;
      whileUp(m[1]!.replace('localhost', '127.0.0.1')).then(() => child.kill('SIGTERM'), (err: unknown) => { child.kill('SIGKILL'); reject(err as Error); });
    }, 25);
    child.once('exit', () => { clearInterval(check); resolve(out); });
  });
}

it('a read-only home gets no onnxruntime telemetry line on stderr, from validate or a served ONNX model', async () => {
  const validate = await airmail(['validate', '--configs', join(ROOT, 'configs')]);
  expect(validate).toMatch(/^ok: /m);
  expect(validate).not.toMatch(/telemetry/i);
  let status = 0;
  const served = await airmail(['serve', '--port', '0', '--host', '127.0.0.1', '--threads', '1', '--configs', join(ROOT, 'configs')], { AIRMAIL_AUDIT_LOG: '/tmp/airmail-telemetry-test-audit.jsonl' }, async (url) => {
    status = (await fetch(`${url}/pipelines/complimentary_items?client_id=17&product_id=42`)).status;
  });
  expect(status, served).toBe(200);
  expect(served).not.toMatch(/telemetry|\x1b\[/i);
}, 90_000);

// Whether onnxruntime prints the line with telemetry on depends on what earlier runs left on the
// machine (it keeps a device id database of its own), so the environment's say is checked where it
// is decided: engine/ort-env.ts, which every path to onnxruntime-node imports first.
it('ORT_DISABLE_TELEMETRY set by the environment wins; unset, it is 1', async () => {
  const saved = process.env['ORT_DISABLE_TELEMETRY'];
  try {
    for (const [given, want] of [[undefined, '1'], ['0', '0'], ['1', '1']] as const) {
      if (given === undefined) delete process.env['ORT_DISABLE_TELEMETRY'];
      else process.env['ORT_DISABLE_TELEMETRY'] = given;
      vi.resetModules();
      await import('../engine/ort-env.js');
      expect(process.env['ORT_DISABLE_TELEMETRY']).toBe(want);
    }
  } finally {
    if (saved === undefined) delete process.env['ORT_DISABLE_TELEMETRY'];
    else process.env['ORT_DISABLE_TELEMETRY'] = saved;
  }
});
