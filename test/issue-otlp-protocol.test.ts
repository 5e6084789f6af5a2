/**
 * OTEL_EXPORTER_OTLP_PROTOCOL (or its _TRACES_ form) set to grpc or http/protobuf was ignored in
 * silence: spans went out as OTLP/HTTP JSON, and a collector taking only protobuf refused every
 * export. Tracing still starts (a platform may inject the variable; telemetry must not stop
 * serving), and the start log says once, in a JSON warn line, what is sent where.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { unsupportedOtlpProtocol } from '../engine/observe/tracing.js';

function sink(): { lines: Record<string, unknown>[]; write(line: string): void } {
  const lines: Record<string, unknown>[] = [];
  return { lines, write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
}

describe('issue: OTEL_EXPORTER_OTLP_PROTOCOL was silently ignored', () => {
  let started: Observability | undefined;
  afterAll(async () => {
    await started?.tracing?.shutdown();
  });

  it('names the variable that asks for a protocol other than http/json; the traces variable wins', () => {
    expect(unsupportedOtlpProtocol({})).toBeUndefined();
    expect(unsupportedOtlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toBeUndefined();
    expect(unsupportedOtlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: ' HTTP/JSON ' })).toBeUndefined();
    expect(unsupportedOtlpProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' })).toEqual({ variable: 'OTEL_EXPORTER_OTLP_PROTOCOL', protocol: 'http/protobuf' });
    expect(unsupportedOtlpProtocol({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })).toEqual({ variable: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', protocol: 'grpc' });
    expect(unsupportedOtlpProtocol({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toBeUndefined();
  });

  it('without tracing on, the variable changes nothing and nothing is logged', () => {
    const s = sink();
    const o = Observability.fromEnv({ AIRMAIL_LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, s);
    expect(o.tracing).toBeUndefined();
    expect(s.lines).toEqual([]);
  });

  it('with tracing on: one JSON warn line at start naming the variable, the protocol and where JSON goes (redacted); tracing still runs', () => {
    const s = sink();
    const env = { AIRMAIL_LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://user:pw@127.0.0.1:1', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' };
    started = Observability.fromEnv(env, s);
    expect(started.tracing).toBeDefined();
    expect(s.lines).toHaveLength(1);
    const line = s.lines[0]!;
    expect(line).toMatchObject({ level: 'warn', code: 'AIRMAIL_OTLP_PROTOCOL', variable: 'OTEL_EXPORTER_OTLP_PROTOCOL', protocol: 'http/protobuf' });
    expect(line['msg']).toBe('OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf is not supported: spans are sent as OTLP/HTTP JSON (http/json) to http://***@127.0.0.1:1/v1/traces; a collector that takes only http/protobuf refuses them, and they are counted as dropped');
    const quiet = sink();
    Observability.fromEnv({ ...env, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, quiet);
    expect(quiet.lines).toEqual([]);
  });
});
