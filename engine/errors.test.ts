import { describe, expect, it } from 'vitest';
import { AirmailError, fromWire, stepError, toWire } from './errors.js';

describe('AirmailError.withoutStack', () => {
  it('is the same error with no frames captured, and leaves the stack limit as it was', () => {
    const before = Error.stackTraceLimit;
    const err = AirmailError.withoutStack('OVERLOADED', 'the worker queue is full (3 waiting)', { details: { retryAfterMs: 12 } });
    expect(err).toBeInstanceOf(AirmailError);
    expect([err.code, err.status, err.message, err.details]).toEqual(['OVERLOADED', 503, 'the worker queue is full (3 waiting)', { retryAfterMs: 12 }]);
    expect(err.stack).not.toMatch(/\n\s+at /);
    expect(new AirmailError('OVERLOADED', 'x').stack).toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(before);
  });
});

describe('stepError', () => {
  it("keeps an execution code, and reports any other code as operator_code beside OPERATOR_FAILED; both survive the wire", () => {
    const own = stepError(Object.assign(new Error('no stock'), { code: 'OUT_OF_STOCK' }), 'InStock');
    expect([own.code, own.status, own.operatorCode, own.operator, own.message]).toEqual(['OPERATOR_FAILED', 500, 'OUT_OF_STOCK', 'InStock', 'no stock']);
    expect(fromWire(toWire(own))).toMatchObject({ code: 'OPERATOR_FAILED', operatorCode: 'OUT_OF_STOCK', operator: 'InStock', message: 'no stock' });
    const claimed = stepError(new AirmailError('NOT_READY', 'pretend'), 'InStock');
    expect([claimed.code, claimed.status, claimed.operatorCode]).toEqual(['OPERATOR_FAILED', 500, 'NOT_READY']);
    const kept = stepError(Object.assign(new Error('bad tensor'), { code: 'MODEL_FAILED' }), 'Score');
    expect([kept.code, kept.operatorCode, kept.operator]).toEqual(['MODEL_FAILED', undefined, 'Score']);
    expect(stepError(new Error('plain')).operatorCode).toBeUndefined();
  });
});
