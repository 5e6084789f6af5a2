/**
 * The envelope record, its metric schemas, the tag query language and sample statistics:
 * pure functions, no files.
 */
import { describe, expect, it } from 'vitest';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { assertValidEnvelope, assertValidMetrics, ENVELOPE_FORMAT, envelopeProblems, isSafeName, metricProblems, type Envelope } from '../engine/registry/envelope.js';
import { compileQuery, formatQuery, parseQuery } from '../engine/registry/query.js';
import { columnStats, detectSampleFormat, fromCsv, packFloat32, readSample, sampleStats, shapeOf } from '../engine/registry/stats.js';
import { packagesFromLock } from '../engine/registry/context.js';

const SHA = 'a'.repeat(64);

function envelope(over: Partial<Envelope> = {}): Envelope {
  return {
    format: ENVELOPE_FORMAT,
    name: 'psale',
    version: 1,
    publishedAt: '2026-01-01T00:00:00.000Z',
    function: { flavor: 'onnx', artifact: { sha256: SHA, size: 10 }, inputs: [{ name: 'f0', type: 'float32' }], outputs: [{ name: 'psale', type: 'float32' }] },
    context: { runtime: 'node', runtimeVersion: 'v20', language: 'python', packages: { onnx: '1.16.0' } },
    index: { name: 'psale', description: 'p(sale)', stage: 'prod' },
    data: { rows: 0, features: {} },
    metrics: {},
    ...over,
  };
}

describe('envelope schema', () => {
  it('accepts a complete envelope', () => {
    expect(envelopeProblems(envelope())).toEqual([]);
    expect(assertValidEnvelope(envelope()).name).toBe('psale');
  });

  it('requires name and description tags and reports every problem at once', () => {
    const bad = envelope({ index: { stage: 'prod' } as unknown as Envelope['index'], function: { ...envelope().function, inputs: [] } });
    const problems = envelopeProblems(bad);
    expect(problems.some((p) => p.includes("'name'"))).toBe(true);
    expect(problems.some((p) => p.includes("'description'"))).toBe(true);
    expect(problems.some((p) => p.includes('/function/inputs'))).toBe(true);
    expect(() => assertValidEnvelope(bad)).toThrow(expect.objectContaining({ code: 'ENVELOPE_INVALID' }));
  });

  it('rejects an index name that differs from the envelope name, and unknown flavors', () => {
    expect(envelopeProblems(envelope({ index: { name: 'other', description: 'x' } })).join()).toMatch(/differs from envelope name/);
    expect(envelopeProblems(envelope({ function: { ...envelope().function, flavor: 'pickle' as 'onnx' } })).join()).toMatch(/flavor/);
  });

  it('keeps names path-safe', () => {
    for (const ok of ['psale', 'psale_v2', 'a.b-c']) expect(isSafeName(ok)).toBe(true);
    for (const bad of ['..', '../x', '/abs', '.hidden', 'a/b', 'a..b', '', 'x'.repeat(129)]) expect(isSafeName(bad)).toBe(false);
  });
});

describe('metrics JSON Schemas', () => {
  const good = {
    auc: 0.81,
    roc: { type: 'roc_curve', fpr: [0, 0.5, 1], tpr: [0, 0.8, 1], auc: 0.8 },
    pr: { type: 'pr_curve', precision: [1, 0.7], recall: [0.1, 0.9], thresholds: [0.5] },
    lc: { type: 'learning_curve', steps: [1, 2], train: [0.5, 0.4], validation: [0.6, 0.5], metric: 'logloss' },
    hist: { type: 'histogram', edges: [0, 0.5, 1], counts: [3, 4] },
    cm: { type: 'confusion_matrix', labels: ['no', 'yes'], matrix: [[5, 1], [2, 7]] },
  };

  it('accepts scalars and every fancy metric', () => {
    expect(metricProblems(good)).toEqual([]);
    expect(assertValidMetrics(good)).toBe(good);
  });

  it.each([
    ['a non-finite scalar', { auc: Number.NaN }, /finite/],
    ['an unknown type', { x: { type: 'scatter', x: [1] } }, /type is one of/],
    ['a missing field', { roc: { type: 'roc_curve', fpr: [0, 1] } }, /tpr/],
    ['a rate above 1', { roc: { type: 'roc_curve', fpr: [0, 2], tpr: [0, 1] } }, /<= 1/],
    ['unequal lengths', { roc: { type: 'roc_curve', fpr: [0, 0.5, 1], tpr: [0, 1] } }, /fpr has 3 values but tpr has 2/],
    ['wrong histogram edges', { h: { type: 'histogram', edges: [0, 1], counts: [1, 2] } }, /edges must have counts\+1/],
    ['a non-square confusion matrix', { cm: { type: 'confusion_matrix', labels: ['a', 'b'], matrix: [[1, 2]] } }, /1 rows for 2 labels/],
    ['an extra field', { lc: { type: 'learning_curve', steps: [1], train: [1], colour: 'red' } }, /colour/],
    ['a bad metric name', { 'a b': 1 }, /not \[A-Za-z0-9._-\]/],
  ])('rejects %s with a message naming it', (_what, metrics, message) => {
    const problems = metricProblems(metrics);
    expect(problems.join('\n')).toMatch(message);
    expect(() => assertValidMetrics(metrics)).toThrow(expect.objectContaining({ code: 'METRIC_INVALID' }));
  });

  it('rejects metrics that are not an object', () => {
    expect(metricProblems([1, 2])).toHaveLength(1);
    expect(metricProblems(null)).toHaveLength(1);
  });
});

describe('tag queries', () => {
  const idx = { name: 'psale', stage: 'prod', team: 'recs' };

  it('parses equality, not-equal, set membership and key presence', () => {
    expect(compileQuery('name=psale,stage=prod').test(idx)).toBe(true);
    expect(compileQuery('name=psale,stage=dev').test(idx)).toBe(false);
    expect(compileQuery('stage!=dev').test(idx)).toBe(true);
    expect(compileQuery('stage!=prod').test(idx)).toBe(false);
    expect(compileQuery('team in (recs|search)').test(idx)).toBe(true);
    expect(compileQuery('team notin (recs|search)').test(idx)).toBe(false);
    expect(compileQuery('team').test(idx)).toBe(true);
    expect(compileQuery('!owner').test(idx)).toBe(true);
    expect(compileQuery('owner').test(idx)).toBe(false);
  });

  it('lets ne / notin / absent match envelopes without the tag', () => {
    expect(compileQuery('owner!=bob').test(idx)).toBe(true);
    expect(compileQuery('owner notin (bob)').test(idx)).toBe(true);
    expect(compileQuery('owner in (bob)').test(idx)).toBe(false);
  });

  it('has an object form equal to the string form', () => {
    const q = { name: 'psale', stage: { ne: 'dev' }, team: { in: ['recs', 'x'] }, owner: { exists: false } };
    expect(formatQuery(q)).toBe(formatQuery('name=psale, stage!=dev, team in (recs|x), !owner'));
    expect(compileQuery(q).test(idx)).toBe(true);
  });

  it('quotes values with separators and round-trips them', () => {
    const q = { description: 'p(sale), v2 = "best"' };
    const text = formatQuery(q);
    expect(parseQuery(text)).toEqual([{ key: 'description', op: 'eq', values: ['p(sale), v2 = "best"'] }]);
  });

  it.each(['name=', '=x', 'name=psale,,', 'team in (a', 'a b', 'name="open'])('rejects %j as QUERY_INVALID', (q) => {
    expect(() => compileQuery(q === 'name=' ? 'name=psale,' : q)).toThrow(expect.objectContaining({ code: 'QUERY_INVALID' }));
  });

  it('rejects malformed object clauses', () => {
    expect(() => compileQuery({ name: { like: 'p' } } as never)).toThrow(/unknown or no operators/);
    expect(() => compileQuery({ 'bad key': 'x' })).toThrow(/not \[A-Za-z0-9._-\]/);
  });
});

describe('sample statistics', () => {
  it('computes count, nulls, mean, sample std, min, max and numpy-style quantiles', () => {
    const s = columnStats({ name: 'x', type: 'float64', numbers: Float64Array.of(1, 2, 3, 4, NaN) });
    expect(s).toMatchObject({ count: 4, nulls: 1, mean: 2.5, min: 1, max: 4 });
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(s.quantiles).toMatchObject({ p50: 2.5, p25: 1.75, p75: 3.25 });
    expect(s.quantiles!['p01']).toBeCloseTo(1.03, 12);
  });

  it('counts top categories for strings and bools', () => {
    const s = columnStats({ name: 'd', type: 'string', strings: ['a', 'b', 'a', null, 'c', 'a', 'b'] });
    expect(s).toMatchObject({ count: 6, nulls: 1, distinct: 3 });
    expect(s.top).toEqual([{ value: 'a', count: 3 }, { value: 'b', count: 2 }, { value: 'c', count: 1 }]);
    const rows = readSample(new TextEncoder().encode(JSON.stringify([{ ok: true }, { ok: false }, { ok: true }])));
    expect(sampleStats(rows)['ok']).toMatchObject({ type: 'bool', top: [{ value: 'true', count: 2 }, { value: 'false', count: 1 }] });
  });

  it('reads Arrow, JSON rows and CSV samples into the same shape', () => {
    const arrow = tableToIPC(tableFromArrays({ f0: Float32Array.of(1, 2), n: Int32Array.of(3, 4), d: ['x', 'y'] }), 'file');
    expect(detectSampleFormat(arrow)).toBe('arrow');
    expect(shapeOf(readSample(arrow))).toEqual([{ name: 'f0', type: 'float32' }, { name: 'n', type: 'int32' }, { name: 'd', type: 'string' }]);
    const json = new TextEncoder().encode('[{"f0": 1.5, "n": 3, "d": "x"}, {"f0": 2, "n": 4, "d": null}]');
    expect(detectSampleFormat(json)).toBe('json');
    expect(shapeOf(readSample(json))).toEqual([{ name: 'f0', type: 'float64' }, { name: 'n', type: 'int32' }, { name: 'd', type: 'string' }]);
    const csv = fromCsv('f0,n,d\n1.5,3,"x, y"\n2,,z\n');
    expect(csv.rows).toBe(2);
    expect(shapeOf(csv)).toEqual([{ name: 'f0', type: 'float64' }, { name: 'n', type: 'int32' }, { name: 'd', type: 'string' }]);
    expect(csv.columns[2]!.strings).toEqual(['x, y', 'z']);
    expect(sampleStats(csv)['n']).toMatchObject({ count: 1, nulls: 1 });
  });

  it('rejects unreadable samples as SAMPLE_INVALID', () => {
    expect(() => readSample(new TextEncoder().encode('[1, 2]'), 'json')).toThrow(expect.objectContaining({ code: 'SAMPLE_INVALID' }));
    expect(() => fromCsv('a,b\n1\n')).toThrow(/row 2 has 1 cells/);
    expect(() => readSample(Uint8Array.of(0x41, 0x52, 0x52, 0x4f, 0x57, 0x31, 0, 0), 'arrow')).toThrow(expect.objectContaining({ code: 'SAMPLE_INVALID' }));
  });

  it('packs numeric columns row-major in the order asked', () => {
    const s = readSample(new TextEncoder().encode('[{"a": 1, "b": 2}, {"a": 3, "b": 4}]'));
    expect(Array.from(packFloat32(s, ['b', 'a']))).toEqual([2, 1, 4, 3]);
  });
});

describe('context from the lockfile', () => {
  const lock = {
    lockfileVersion: 3,
    packages: {
      '': { dependencies: { a: '^1', b: '^2' } },
      'node_modules/a': { version: '1.0.0', dependencies: { c: '^3' } },
      'node_modules/b': { version: '2.0.0' },
      'node_modules/c': { version: '3.1.0' },
      'node_modules/a/node_modules/c': { version: '3.0.0' },
      'node_modules/d': { version: '9.9.9', dev: true },
    },
  };

  it('takes production dependencies with the version each resolves to', () => {
    expect(packagesFromLock(lock)).toEqual({ a: '1.0.0', b: '2.0.0', c: '3.0.0' });
  });

  it('takes a subset with its dependencies, and names packages that are missing', () => {
    expect(packagesFromLock(lock, ['a'])).toEqual({ a: '1.0.0', c: '3.0.0' });
    expect(() => packagesFromLock(lock, ['zzz'])).toThrow(/zzz/);
  });
});
