import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { closest, describeErrors, newAjv } from './validators.js';
import { PIPELINE_SCHEMA } from './schema.js';

const pipeline = newAjv({ useDefaults: false }).compile(PIPELINE_SCHEMA as object);
const problems = (v: unknown): { path: string; message: string }[] => (pipeline(v) ? [] : describeErrors(pipeline.errors));
const withStep = (step: unknown): unknown => ({ name: 'p', item_type: 'id', initialization: { includes: [step] } });

describe('describeErrors: a oneOf / anyOf failure names the field and what it must be', () => {
  it("a step written as a mapping with weight: two says weight must be a number (not \"'0' must be string\")", () => {
    expect(problems(withStep({ name: 'Column', weight: 'two' }))).toEqual([
      { path: '/initialization/includes/0/weight', message: `'weight' must be a number, not "two"` },
    ]);
  });

  it('a step that is neither a name nor a mapping says which forms a step takes', () => {
    expect(problems(withStep(5))).toEqual([{ path: '/initialization/includes/0', message: "'includes[0]' must be a string or a mapping, not 5" }]);
  });

  it('Sort given both score and by says both were given; given neither, that one is needed', () => {
    const sort = newAjv().compile({
      type: 'object',
      properties: { by: { type: 'string' }, score: { type: 'string' } },
      oneOf: [{ required: ['by'] }, { required: ['score'] }],
    });
    expect(sort({ by: 'a', score: 'b' })).toBe(false);
    expect(describeErrors(sort.errors)).toEqual([{ path: '', message: "'by' and 'score' are both given; give only one of them" }]);
    expect(sort({})).toBe(false);
    expect(describeErrors(sort.errors)).toEqual([{ path: '', message: "give one of 'by' or 'score'" }]);
  });
});

describe('describeErrors: names and patterns in words', () => {
  it("a bad preset 'use' says what a valid name is instead of dumping the regex", () => {
    const ajv = newAjv({ useDefaults: false }).compile(PIPELINE_SCHEMA as object);
    const v = { name: 'bad name!', item_type: 'id', initialization: { includes: ['X'] } };
    expect(ajv(v)).toBe(false);
    const msgs = describeErrors(ajv.errors).map((p) => p.message);
    expect(msgs).toContain(`'name' must be a name of letters, digits, _ . and - that starts with a letter or _ (at most 128 characters), not "bad name!"`);
    expect(msgs.join('\n')).not.toContain('must match pattern');
  });
});

describe('closest: a misspelt name from a request', () => {
  // The comparison before bounds were added, kept as the reference the bounded one must agree with.
  function reference(name: string, candidates: readonly string[]): string | undefined {
    const dist = (a: string, b: string): number => {
      let before: number[] = [];
      let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
      for (let i = 1; i <= a.length; i++) {
        const row = [i];
        for (let j = 1; j <= b.length; j++) {
          let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
          if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
          row.push(d);
        }
        before = prev;
        prev = row;
      }
      return prev[b.length]!;
    };
    let best: string | undefined;
    let bestD = Infinity;
    for (const c of candidates) {
      const d = dist(name.toLowerCase(), c.toLowerCase());
      if (d < bestD) { bestD = d; best = c; }
    }
    return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) && bestD * 2 <= Math.max(name.length, best.length) ? best : undefined;
  }

  it('suggests what it suggested before, for any name and candidates', () => {
    const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'A', '_', 'İ'), maxLength: 14 });
    fc.assert(fc.property(word, fc.array(word, { maxLength: 8 }), (name, candidates) => {
      expect(closest(name, candidates)).toBe(reference(name, candidates));
    }), { numRuns: 3000, seed: 6 });
    expect(closest('complimentary_itmes', ['complimentary_items', 'MyPipeline'])).toBe('complimentary_items');
  });

  // GET /pipelines/{name} with a 16,000-character name compared it with every pipeline's name in
  // full: 7.7 s of the main thread for 1,000 pipelines (127 ms for 3). Now no comparison is made.
  it('a name far longer than every candidate is answered without comparing it', { timeout: 5_000 }, () => {
    const names = Array.from({ length: 2_000 }, (_, i) => `pipeline_number_${i}_for_tenant`);
    expect(closest('n'.repeat(16_000), names)).toBeUndefined();
    expect(closest(`${names[7]!}xx`, names)).toBe(names[7]);
  });
});
