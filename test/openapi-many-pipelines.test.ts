/**
 * Issue: /openapi.json of a retailer's 200 pipelines was 1.17 MB: the answer schema of a run was
 * written out inline three times per pipeline. It is defined once under components and referenced.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const N = 50;
let srv: RunningServer | undefined;
let dir: string;

describe('/openapi.json with many pipelines', () => {
  beforeAll(async () => {
    dir = await tempDir();
    let text = 'pipelines:\n';
    for (let i = 0; i < N; i++) text += `- {name: p${i}, item_type: sid, initialization: {includes: [{name: Static, parameters: {items: [a]}}]}}\n`;
    await writeFile(join(dir, 'all.yaml'), text);
    srv = await server({ configs: dir, threads: 0, port: 0 });
  });
  afterAll(async () => {
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('defines the answer schema once and refers to it from every pipeline', async () => {
    const text = await (await fetch(`${srv!.url}/openapi.json`)).text();
    expect(text.split('Content hash of the compiled config.').length - 1).toBe(1);
    const spec = JSON.parse(text) as { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>; components: { schemas: Record<string, { properties: Record<string, unknown> }> } };
    // The run's answer is one response under components (the Result schema, the x-request-id header), referred to.
    expect(spec.paths['/pipelines/p7']!['post']!.responses['200']).toEqual({ $ref: '#/components/responses/Run' });
    expect((spec as unknown as { components: { responses: Record<string, { content: Record<string, { schema: unknown }> }> } }).components.responses['Run']!.content['application/json']!.schema).toEqual({ $ref: '#/components/schemas/Result' });
    expect(Object.keys(spec.components.schemas['Result']!.properties)).toEqual(expect.arrayContaining(['items', 'error', 'reason', 'pipeline', 'version']));
    // So is a batch's answer, and its body.
    expect((spec.paths['/pipelines/p7/batch']!['post'] as unknown as { responses: Record<string, unknown> }).responses['200']).toEqual({ $ref: '#/components/responses/Batch' });
    // Was about 5,900 bytes a pipeline with four operations; about 2,800 since each operation lists its error
    // statuses and run options (references); about 4,800 with a fifth, the batch (its answer and body referred to).
    expect(text.length).toBeLessThan(N * 5000);
  });
});
