/**
 * Regression: a js module refused at publish was named as version 0 ("js function churn@0 cannot be
 * loaded"), a version that never exists; it is now "churn (being published)".
 */
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../engine/registry/fixtures.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';

describe('a js module refused at publish', () => {
  let dir: string;
  let store: RegistryStore;
  beforeAll(async () => { dir = await tempDir('airmail-js-label-'); store = await RegistryStore.open(join(dir, 'r'), { create: true }); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('is named without a version it does not have', async () => {
    const err = await publishModel({ artifact: new TextEncoder().encode('export const predict = 5;\n'), flavor: 'js', name: 'churn', description: 'd', sample: [{ x: 1 }] }, store).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/js function churn \(being published\) cannot be loaded: the module does not export a function predict/);
    expect((err as Error).message).not.toMatch(/@0/);
  });
});
