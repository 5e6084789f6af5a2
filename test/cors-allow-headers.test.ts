/**
 * A page allowed by `--cors-origin` could not force an experiment's arm with `x-airmail-arm` (the
 * README's QA switch), pin its now with `x-airmail-now` or set `x-airmail-debug-ids`: the preflight
 * allowed only content-type, the deadline, the debug switch and a request id, so the browser refused
 * the call before it was sent, although /openapi.json (itself served to pages) documents those
 * headers on the run routes. Every header parameter the document gives a route a page may call is
 * now allowed by that route's preflight.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corsMethods } from '../engine/http/cors.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const ORIGIN = 'https://shop.example.com';
let s: RunningServer;

beforeAll(async () => {
  const dir = await tempDir('airmail-cors-headers-');
  await writeFile(join(dir, 'items.csv'), 'sku_id,color\n1,red\n2,blue\n3,red\n');
  const pipeline = (name: string): string[] => [
    'pipeline:', `  name: ${name}`, '  item_type: sku_id', '  inputs: {client_id: {type: integer}, color: {default: red}}',
    '  initialization:', '    includes: [{name: Lookup, parameters: {dataset: items, where: {color: $color}}}]', '  return: [sku_id]',
  ];
  await writeFile(join(dir, 'a.yaml'), ['datasets:', '  items: {path: items.csv, key: sku_id}', ...pipeline('reds_a'), ''].join('\n'));
  await writeFile(join(dir, 'b.yaml'), [...pipeline('reds_b'), ''].join('\n'));
  await writeFile(join(dir, 'x.yaml'), [
    'experiments:', '- name: reds', '  unit: $client_id', '  arms:', '  - {pipeline: reds_a, weight: 1}', '  - {pipeline: reds_b, weight: 1}', '',
  ].join('\n'));
  s = await server({ configs: dir, threads: 1, watch: false, corsOrigins: new Set([ORIGIN]) });
}, 30_000);
afterAll(async () => { await s?.close(); });

type Op = { parameters?: Array<{ name: string; in: string } | { $ref: string }> };

describe('CORS preflight allows the headers /openapi.json documents', () => {
  it('every header parameter of a route a page may call passes that route\'s preflight', async () => {
    const doc = await (await fetch(`${s.url}/openapi.json`)).json() as {
      paths: Record<string, Record<string, Op>>;
      components?: { parameters?: Record<string, { name: string; in: string }> };
    };
    const resolve = (p: { name: string; in: string } | { $ref: string }): { name: string; in: string } =>
      '$ref' in p ? doc.components!.parameters![p.$ref.split('/').pop()!]! : p;
    const checked: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      const methods = corsMethods(path);
      if (!methods) continue;
      for (const [method, op] of Object.entries(ops)) {
        if (!methods.includes(method.toUpperCase())) continue;
        const headers = (op.parameters ?? []).map(resolve).filter((p) => p.in === 'header').map((p) => p.name.toLowerCase());
        if (headers.length === 0) continue;
        const r = await fetch(`${s.url}${path}`, {
          method: 'OPTIONS',
          headers: { origin: ORIGIN, 'access-control-request-method': method.toUpperCase(), 'access-control-request-headers': headers.join(', ') },
        });
        expect(r.status).toBe(204);
        const allowed = (r.headers.get('access-control-allow-headers') ?? '').split(',').map((h) => h.trim());
        expect({ route: `${method.toUpperCase()} ${path}`, missing: headers.filter((h) => !allowed.includes(h)) })
          .toEqual({ route: `${method.toUpperCase()} ${path}`, missing: [] });
        checked.push(...headers);
      }
    }
    expect(checked).toContain('x-airmail-arm');
    expect(checked).toContain('x-airmail-now');
  });

  it('a page forces an arm with x-airmail-arm and reads which arm answered', async () => {
    const r = await fetch(`${s.url}/pipelines/reds?client_id=17`, { headers: { origin: ORIGIN, 'x-airmail-arm': 'reds_b' } });
    expect(r.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const body = await r.json() as { pipeline: string; experiment: { arm: string; assignment: string } };
    expect(body.experiment).toMatchObject({ arm: 'reds_b', assignment: 'forced' });
  });
});
