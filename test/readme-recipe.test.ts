/**
 * The README's "common shape" recipe (candidates minus purchases, top 10 by a model score, at most
 * 2 per product: Dedupe `keep`), sent to /execute against the demo configs exactly as written.
 * Dedupe had no `keep`, so "at most N per brand" could not be written at all.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { RunningServer } from '../engine/server.js';
import { ROOT, server } from './helpers.js';

let srv: RunningServer;
beforeAll(async () => { srv = await server({ configs: join(ROOT, 'configs'), threads: 1, watch: false }); });
afterAll(async () => srv?.close());

/** The heredoc body of the curl under "A common shape". */
async function recipe(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('A common shape');
  const m = /--data-binary @- <<'EOF'\n([\s\S]*?)\nEOF\n/.exec(readme.slice(at));
  if (at < 0 || !m) throw new Error('README: no common-shape recipe');
  return m[1]!;
}

describe('README recipe: at most 2 per product, top 10 by PsaleScore', () => {
  it('runs as written and keeps its promises', async () => {
    const body = await recipe();
    const r = await fetch(`http://127.0.0.1:${srv.port}/execute`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body });
    const res = (await r.json()) as { items: { sku_id: number; product_id: number; score: number }[]; error: boolean; reason: string | null };
    expect([r.status, res.error, res.reason]).toEqual([200, false, null]);
    expect(res.items).toHaveLength(10);
    const perProduct = new Map<number, number>();
    for (const i of res.items) perProduct.set(i.product_id, (perProduct.get(i.product_id) ?? 0) + 1);
    expect(Math.max(...perProduct.values())).toBeLessThanOrEqual(2);
    const scores = res.items.map((i) => i.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    // keep: 2 keeps more than keep: 1 would, when a product has two strong skus.
    const doc = parse(body) as { pipeline: { operations: { parameters: Record<string, unknown> }[] } };
    doc.pipeline.operations[1]!.parameters['keep'] = 1;
    const one = await fetch(`http://127.0.0.1:${srv.port}/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) });
    const oneRes = (await one.json()) as { items: { product_id: number }[] };
    expect(new Set(oneRes.items.map((i) => i.product_id)).size).toBe(oneRes.items.length);
  });
});
