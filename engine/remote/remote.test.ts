import { describe, expect, it } from 'vitest';
import { valueAt } from '../api.js';
import { dictEncode, Table, tableFromRows } from '../dataset.js';
import { decodeTable, encodeTable } from './codec.js';
import { tableFromJson, tableFromRedis } from './decode.js';
import { RemoteBroker } from './broker.js';
import { remoteKey } from './key.js';
import { json, startUpstream } from './upstream-fixture.js';
import { AttemptError, withRetries } from './retry.js';

describe('table codec (the Redis cache encoding)', () => {
  it('round-trips every column kind into shared memory', () => {
    const t = new Table({
      name: 't', key: 'id', length: 3,
      columns: {
        id: Int32Array.from([3, 1, 2]),
        f32: Float32Array.from([0.5, NaN, 1.5]),
        f64: Float64Array.from([1e300, -0, 2]),
        d: dictEncode(['a', null, 'a']),
        s: { kind: 'string', values: ['x', null, 'z'] },
      },
    });
    const back = decodeTable(encodeTable(t.handle));
    expect(back.name).toBe('t');
    expect(back.key).toBe('id');
    expect(back.length).toBe(3);
    expect(Array.from(back.column('id') as Int32Array)).toEqual([3, 1, 2]);
    expect((back.column('id') as Int32Array).buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(back.column('f32') as Float32Array)).toEqual([0.5, NaN, 1.5]);
    expect(Array.from(back.column('f64') as Float64Array)).toEqual([1e300, -0, 2]);
    expect([0, 1, 2].map((i) => valueAt(back.column('d'), i))).toEqual(['a', null, 'a']);
    expect([0, 1, 2].map((i) => valueAt(back.column('s'), i))).toEqual(['x', null, 'z']);
    expect(back.findRow('id', 2)).toBe(2);
  });

  it('keeps which columns hold timestamps (a remote Arrow answer read back from the Redis cache)', () => {
    const t = new Table({ name: 't', key: undefined, length: 1, columns: { at: Float64Array.from([Date.UTC(2024, 9, 1)]) }, instants: ['at'] });
    expect(decodeTable(encodeTable(t.handle)).holdsInstants('at')).toBe(true);
  });

  it('round-trips an empty table and a subarray column', () => {
    const empty = tableFromRows('e', [], undefined);
    expect(decodeTable(encodeTable(empty.handle)).length).toBe(0);
    const base = Int32Array.from([9, 8, 7, 6]);
    const t = new Table({ name: 's', key: undefined, length: 2, columns: { v: base.subarray(1, 3) } });
    expect(Array.from(decodeTable(encodeTable(t.handle)).column('v') as Int32Array)).toEqual([8, 7]);
  });
});

describe('decoding remote payloads', () => {
  it('JSON rows, scalars and the common envelopes; a dotted path', () => {
    expect(tableFromJson('x', [{ a: 1 }, { a: 2 }]).length).toBe(2);
    expect(Array.from(tableFromJson('x', [5, 6]).column('value') as Int32Array)).toEqual([5, 6]);
    expect(tableFromJson('x', { items: [1] }).length).toBe(1);
    expect(tableFromJson('x', { data: { rows: [{ a: 1 }] } }, 'data.rows').length).toBe(1);
  });

  it('rejects what is not a table, as SOURCE_FAILED', () => {
    expect(() => tableFromJson('x', { a: 1 })).toThrow(expect.objectContaining({ code: 'SOURCE_FAILED' }));
    expect(() => tableFromJson('x', [1, { a: 1 }])).toThrow(expect.objectContaining({ code: 'SOURCE_FAILED' }));
    expect(() => tableFromJson('x', { a: [] }, 'b.c')).toThrow(/no field 'b.c'/);
  });

  it('Redis replies: numeric strings become numbers, others stay strings', () => {
    expect(Array.from(tableFromRedis('x', 'set', ['3', '10']).column('value') as Int32Array)).toEqual([3, 10]);
    const h = tableFromRedis('x', 'hash', { a: '1.5', b: 'two' });
    expect([0, 1].map((i) => valueAt(h.column('value'), i))).toEqual(['1.5', 'two']);
    const z = tableFromRedis('x', 'zset', ['7', '0.5', '8', '2']);
    expect(Array.from(z.column('score') as Float64Array)).toEqual([0.5, 2]);
    expect(tableFromRedis('x', 'json', null).length).toBe(0);
  });
});

describe('cache keys', () => {
  it('leave out timeouts and retries, keep what selects the answer, and hide credentials', () => {
    const a = remoteKey({ kind: 'http', url: 'http://u/x?w=1', timeoutMs: 5, retries: 0 });
    expect(a).toBe(remoteKey({ kind: 'http', url: 'http://u/x?w=1', timeoutMs: 500 }));
    expect(a).not.toBe(remoteKey({ kind: 'http', url: 'http://u/x?w=2' }));
    const secret = remoteKey({ kind: 'http', url: 'http://u/x', headers: { authorization: 'Bearer s3cret' } });
    expect(secret).not.toContain('s3cret');
    expect(secret).not.toBe(remoteKey({ kind: 'http', url: 'http://u/x', headers: { authorization: 'Bearer other' } }));
    expect(remoteKey({ kind: 'redis', key: 'k', type: 'set', url: 'redis://:pw@h:1/2' })).not.toContain('pw');
  });
});

describe('bounded retries', () => {
  it('tries 1 + retries times, then throws the last error', async () => {
    let n = 0;
    await expect(withRetries(async () => { n++; throw new AttemptError(`fail ${n}`, true); }, { retries: 2, backoffMs: 1 })).rejects.toThrow('fail 3');
    expect(n).toBe(3);
  });

  it('stops at once on an error that asking again would repeat', async () => {
    let n = 0;
    await expect(withRetries(async () => { n++; throw new AttemptError('404', false); }, { retries: 5, backoffMs: 1 })).rejects.toThrow('404');
    expect(n).toBe(1);
  });

  it('returns the first success with its attempt number; an aborted signal stops the backoff', async () => {
    let n = 0;
    expect(await withRetries(async () => { if (++n < 2) throw new Error('once'); return 'ok'; }, { retries: 3, backoffMs: 1 })).toEqual({ value: 'ok', attempts: 2 });
    const ac = new AbortController();
    const p = withRetries(async () => { throw new Error('down'); }, { retries: 10, backoffMs: 10_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 10);
    const t0 = Date.now();
    await expect(p).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('issue: a deadline while waiting on the broker cache named the cache key', () => {
  it('a request that joins a fetch already out names it as the other deadline messages do, URL redacted', async () => {
    const up = await startUpstream({ latencyMs: 300, handler: () => json([{ sku_id: 1 }]) });
    const broker = new RemoteBroker();
    try {
      const f = { request: { kind: 'http' as const, url: `${up.url}/recs?token=s3cret` }, cache: { ttlMs: 1000 }, source: `Recs ${up.url}/recs?token=s3cret` };
      const first = broker.fetch(f);
      const ac = new AbortController();
      const joined = broker.fetch(f, ac.signal);
      setTimeout(() => ac.abort(), 20);
      const err = (await joined.catch((e: unknown) => e)) as { code: string; message: string };
      expect(err.code).toBe('DEADLINE_EXCEEDED');
      expect(err.message).toBe(`the request's deadline passed while waiting for Recs GET ${up.url}/recs?***`);
      expect((await first).handle.length).toBe(1);
    } finally {
      await broker.close();
      await up.close();
    }
  });
});

describe('issue: a custom source without a name was counted under its cache key', () => {
  it('counts fetches of ever-new URLs under one name, not one stats entry per URL', async () => {
    const up = await startUpstream({ handler: () => json([{ sku_id: 1 }]) });
    const broker = new RemoteBroker();
    try {
      for (let i = 0; i < 300; i++) await broker.fetch({ request: { kind: 'http', url: `${up.url}/users/${i}/recs` }, cache: { ttlMs: 1000 } });
      const sources = broker.stats().shared.sources;
      expect(Object.keys(sources)).toEqual(['http (unnamed source)']);
      expect(sources['http (unnamed source)']!.misses).toBe(300);
    } finally {
      await broker.close();
      await up.close();
    }
  });
});
