/**
 * A collector stand-in: an HTTP server that accepts OTLP/HTTP JSON trace
 * exports (POST /v1/traces) and answers 200. It decodes and keeps the spans
 * (tests), or only counts requests and bytes (load tests, where decoding
 * would spend the machine's CPU). Not used by the engine itself.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: readonly { readonly key: string; readonly value: Readonly<Record<string, unknown>> }[];
  readonly status?: { readonly code?: number; readonly message?: string };
}

export interface OtlpSink {
  /** The traces endpoint, for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. */
  readonly url: string;
  /** The base, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  readonly spans: OtlpSpan[];
  readonly stats: { posts: number; bytes: number; rejected: number };
  close(): Promise<void>;
}

/** One attribute of a decoded span as a JS value (OTLP JSON ints may arrive as strings). */
export function attribute(s: OtlpSpan, key: string): string | number | boolean | undefined {
  const v = s.attributes.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  if (v['intValue'] !== undefined) return Number(v['intValue']);
  return (v['stringValue'] ?? v['doubleValue'] ?? v['boolValue']) as string | number | boolean | undefined;
}

export function startOtlpSink(opts: { readonly decode?: boolean; readonly port?: number } = {}): Promise<OtlpSink> {
  const decode = opts.decode !== false;
  const spans: OtlpSpan[] = [];
  const stats = { posts: 0, bytes: 0, rejected: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      stats.posts++;
      const body = Buffer.concat(chunks);
      stats.bytes += body.length;
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).includes('application/json')) {
        stats.rejected++;
        res.writeHead(415).end();
        return;
      }
      if (decode) {
        const doc = JSON.parse(body.toString('utf8')) as { resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[] };
        for (const rs of doc.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve({
        url: `${endpoint}/v1/traces`,
        endpoint,
        spans,
        stats,
        close: () => new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        }),
      });
    });
  });
}
