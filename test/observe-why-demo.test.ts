/**
 * "Why not this item?" on the demo served by `npm start` (configs/): the
 * README's example request, run exactly as written, answers what the README
 * shows.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import type { WhyAnswer } from '../engine/observe/types.js';
import { ROOT, server } from './helpers.js';

let srv: RunningServer;

async function post(path: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await request(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: r.statusCode, json: JSON.parse(await r.body.text()) as Record<string, unknown> };
}

/** The README's why example: the path, the -d body and the answer shown under it. */
function readmeExample(): { path: string; body: string; verdict: string; reason: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = /curl -s -XPOST localhost:8080(\/pipelines\/\w+\/why)[^\n]*\\\n\s*-d '([^']*)'\n# (\{"why": .*)\n/.exec(readme);
  expect(m, 'the why example in the README').not.toBeNull();
  const shown = m![3]!;
  const verdict = /"verdict": "(\w+)"/.exec(shown)![1]!;
  const reason = JSON.parse(`"${/"reason": "((?:[^"\\]|\\.)*)"/.exec(shown)![1]!}"`) as string;
  return { path: m![1]!, body: m![2]!, verdict, reason };
}

describe('why on the demo configs', () => {
  beforeAll(async () => {
    srv = await server({ configs: join(ROOT, 'configs') });
  }, 120_000);
  afterAll(async () => srv?.close());

  it("the README's why example answers as the README shows", async () => {
    const ex = readmeExample();
    const r = await post(ex.path, ex.body);
    expect(r.status).toBe(200);
    const why = r.json['why'] as WhyAnswer;
    expect(why.verdict).toBe(ex.verdict);
    expect(why.reason).toBe(ex.reason);
  });
});
