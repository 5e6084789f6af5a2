/**
 * Model inputs are gathered into reused buffers (engine/models/scratch.ts). Requests run inline on
 * the main thread overlap at each model call: each must still score its own candidates. Twelve
 * different requests at once, on the standard MLP, answer exactly what each answers alone.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinOperators } from '../operators/index.js';
import { Engine } from '../engine/engine.js';
import { benchOrSkip, OPERATORS_URL, ROOT } from './helpers.js';

const enabled = benchOrSkip();
let engine: Engine | undefined;

beforeAll(async () => {
  if (!enabled) return;
  engine = new Engine({ configs: join(ROOT, 'loadtest/bench-configs'), operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false, remote: {}, inlineUnderMs: 0 });
  await engine.start();
}, 60_000);
afterAll(async () => engine?.close());

describe.runIf(enabled)('model calls in flight at once on one thread', () => {
  it('each request scores its own candidates', async () => {
    const e = engine!;
    const p = e.pipeline('complimentary_items_mlp')!;
    const inputs = Array.from({ length: 12 }, (_, i) => ({ client_id: 1 + ((i * 7919) % 20_000), product_id: 1 + ((i * 104_729) % 10_000) }));
    const run = async (x: (typeof inputs)[number]): Promise<string> => JSON.stringify((await e.run(p, e.checkInputs(p, x, 'json'), {})).items);
    const alone: string[] = [];
    for (const x of inputs) alone.push(await run(x));
    expect(new Set(alone).size).toBe(inputs.length);
    for (let round = 0; round < 3; round++) expect(await Promise.all(inputs.map(run))).toEqual(alone);
  }, 60_000);
});
