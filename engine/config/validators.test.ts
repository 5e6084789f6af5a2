import { describe, expect, it } from 'vitest';
import { describeErrors, newAjv } from './validators.js';
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
