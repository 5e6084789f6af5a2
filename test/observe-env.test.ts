/**
 * Observability configured by the environment, as `airmail serve` runs it:
 * tracing is off unless OTEL_* asks, and with OTEL_EXPORTER_OTLP_ENDPOINT set
 * the served request's trace reaches the collector under the trace id its
 * JSON log line names.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { attribute, startOtlpSink, type OtlpSink } from '../engine/observe/otlp-sink.js';
import { tracingWanted } from '../engine/observe/tracing.js';
import { ROOT } from './helpers.js';

describe('tracingWanted', () => {
  it('is off by default and follows the standard variables', () => {
    expect(tracingWanted({})).toBe(false);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(true);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toBe(true);
    expect(tracingWanted({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(tracingWanted({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(false);
    expect(tracingWanted({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBe(false);
  });
});

describe('airmail serve with OTEL_* and AIRMAIL_LOG_LEVEL', () => {
  let child: ChildProcess | undefined;
  let sink: OtlpSink | undefined;
  afterAll(async () => {
    child?.kill('SIGTERM');
    await sink?.close();
  });

  it('exports the request trace and logs one JSON line naming its trace id', async () => {
    sink = await startOtlpSink();
    const env = { ...process.env, AIRMAIL_FROM_SOURCE: '1', AIRMAIL_LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint, OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_SERVICE_NAME: 'airmail-test' };
    child = spawn(process.execPath, [join(ROOT, 'bin/airmail.mjs'), 'serve', '--port', '0', '--host', '127.0.0.1', '--threads', '1', '--configs', join(ROOT, 'configs')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    const rl = createInterface({ input: child.stdout! });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the server did not start in 60 s')), 60_000);
      rl.on('line', (l) => {
        lines.push(l);
        const m = /on (http:\/\/\S+)/.exec(l);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!.replace('localhost', '127.0.0.1'));
        }
      });
      child!.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    const res = await fetch(`${url}/pipelines/complimentary_items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: 17, product_id: 42 }) });
    expect(res.status).toBe(200);
    const until = Date.now() + 20_000;
    const done = (): boolean => sink!.spans.some((s) => s.name === 'pipeline complimentary_items') && lines.some((l) => l.includes('"msg":"complimentary_items returned'));
    while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const root = sink.spans.find((s) => s.name === 'pipeline complimentary_items')!;
    expect(root).toBeDefined();
    expect(attribute(root, 'airmail.items')).toBe(10);
    expect(sink.spans.filter((s) => s.traceId === root.traceId && s.name.startsWith('operation ')).length).toBeGreaterThan(0);
    const log = JSON.parse(lines.find((l) => l.includes('"msg":"complimentary_items returned'))!) as Record<string, unknown>;
    expect(log).toMatchObject({ level: 'info', pipeline: 'complimentary_items', status: 200, items: 10, trace_id: root.traceId });
  });
});
