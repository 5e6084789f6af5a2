/**
 * Differential test of the pipeline language's semantics: seeded random
 * worlds (an items dataset keyed by `id`, integer or text ids, repeated keys,
 * nulls, empty tables; a links table with repeated ids), pipelines over the
 * README's operators and request inputs (some of which must be refused) run
 * through the real engine (POST /execute, in-process: inline with JSON bodies,
 * and the first 40 on the worker pool with YAML bodies) and through the
 * independent reference interpreter in semantics-reference.ts, which follows the
 * README's words. Ids, order, every returned value and error codes must agree.
 * SEM_SEED, SEM_CASES and SEM_POOLED change the run; a failure prints the case to replay.
 */
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine/engine.js';
import { createApp } from '../engine/http/app.js';
import { builtinOperators } from '../operators/index.js';
import { OPERATORS_URL, tempDir } from './helpers.js';
import { gen, writeWorlds } from './semantics-cases.js';
import { interpret, type Case, type Row } from './semantics-reference.js';
import { SEM_NOW } from './semantics-reference.js';

const SEED = Number(process.env['SEM_SEED'] ?? 7);
const CASES = Number(process.env['SEM_CASES'] ?? 200);
const { worlds, cases } = gen(SEED, CASES);
const POOLED = Math.min(CASES, Number(process.env['SEM_POOLED'] ?? 40));
const engines: Engine[] = [];
let inline: ReturnType<typeof createApp>;
let pooled: ReturnType<typeof createApp>;

beforeAll(async () => {
  const dir = await tempDir('airmail-sem-');
  await writeWorlds(dir, worlds);
  const start = async (threads: number): Promise<ReturnType<typeof createApp>> => {
    const engine = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads, inlineUnderMs: 0, watch: false, remote: {}, clock: () => SEM_NOW });
    engines.push(engine);
    expect(await engine.start()).toEqual([]);
    return createApp(engine);
  };
  inline = await start(0);
  pooled = await start(1);
});
afterAll(() => Promise.all(engines.map((e) => e.close())));

/** Runs the cases through POST /execute; the first few mismatches, each with the case to replay. */
async function compare(app: ReturnType<typeof createApp>, list: readonly Case[], yaml: boolean): Promise<{ mismatches: string[]; ordered: number }> {
  const mismatches: string[] = [];
  let ordered = 0;
  for (const k of list) {
    const doc = { pipeline: k.pipeline, inputs: k.inputs };
    const res = await app.request('/execute', { method: 'POST', headers: { 'content-type': yaml ? 'application/yaml' : 'application/json' }, body: yaml ? stringify(doc) : JSON.stringify(doc) });
    const body = (await res.json()) as { items: Row[]; error: boolean; code?: string; reason?: string };
    const want = k.expectStatus === 200 ? interpret(k.world, k.pipeline, k.inputs).items : [];
    if (want.length > 2) ordered++;
    const got = res.status === k.expectStatus && body.error === (k.expectStatus !== 200) && (k.expectCode === undefined || body.code === k.expectCode) && JSON.stringify(body.items) === JSON.stringify(want);
    if (!got) {
      mismatches.push(`world ${k.world.name} items=${JSON.stringify(k.world.items)} links=${JSON.stringify(k.world.links)}\n  pipeline=${JSON.stringify(k.pipeline)} inputs=${JSON.stringify(k.inputs)}\n  want ${k.expectStatus} ${JSON.stringify(want)}\n  got  ${res.status} ${body.code ?? ''} ${JSON.stringify(body.items)} ${body.reason ?? ''}`);
      if (mismatches.length >= 3) break;
    }
  }
  return { mismatches, ordered };
}

describe('the engine agrees with the README reference interpreter', () => {
  it(`${CASES} seeded cases (seed ${SEED}), inline, JSON bodies`, async () => {
    const { mismatches, ordered } = await compare(inline, cases, false);
    expect(mismatches.join('\n\n')).toBe('');
    // The generator is not degenerate: a quarter of the cases answer several items, whose order is compared
    // (Offset and Limit empty some answers: a third was not reached by every seed).
    expect(ordered).toBeGreaterThan(CASES / 4);
  });

  it(`the first ${POOLED} of them on the worker pool, YAML bodies`, async () => {
    const { mismatches } = await compare(pooled, cases.slice(0, POOLED), true);
    expect(mismatches.join('\n\n')).toBe('');
  });
});
