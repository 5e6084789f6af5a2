/**
 * ajv, configured once: operator parameter schemas are compiled on first use
 * and cached per definition; every error of a document is reported.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsMod from 'ajv-formats';
import type { JsonSchema, OperatorDefinition } from '../api.js';

const addFormats = addFormatsMod.default;

export interface Problem {
  /** JSON pointer inside the validated value. */
  readonly path: string;
  readonly message: string;
}

export function newAjv(opts: { coerceTypes?: boolean; useDefaults?: boolean } = {}): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: opts.useDefaults ?? true, coerceTypes: opts.coerceTypes ?? false });
  addFormats(ajv);
  return ajv;
}

/** One sentence per ajv error, pointing at the offending value. */
export function describeErrors(errors: readonly ErrorObject[] | null | undefined): Problem[] {
  const out: Problem[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    let path = e.instancePath;
    let message: string;
    const p = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'required':
        path = `${path}/${String(p['missingProperty'])}`;
        message = `'${String(p['missingProperty'])}' is required`;
        break;
      case 'additionalProperties':
        path = `${path}/${String(p['additionalProperty'])}`;
        message = `'${String(p['additionalProperty'])}' is not a known property`;
        break;
      case 'enum':
        message = `must be one of ${(p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'type':
        message = `must be ${String(p['type'])}`;
        break;
      case 'oneOf':
      case 'anyOf':
        message = 'does not match any allowed form';
        break;
      default:
        message = e.message ?? e.keyword;
    }
    const name = path === '' ? 'the value' : `'${path.split('/').pop()}'`;
    const text = e.keyword === 'required' || e.keyword === 'additionalProperties' ? message : `${name} ${message}`;
    const k = `${path}|${text}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ path, message: text });
  }
  // oneOf noise: when a more specific error exists under the same path, drop the generic one.
  return out.filter((p) => !(p.message.endsWith('does not match any allowed form') && out.some((q) => q !== p && q.path.startsWith(p.path))));
}

export class ParamValidator {
  private readonly ajv = newAjv();
  private readonly cache = new WeakMap<OperatorDefinition, ValidateFunction>();

  /** Validates (and fills defaults into) `params`; returns every problem. */
  check(def: OperatorDefinition, params: unknown): Problem[] {
    let fn = this.cache.get(def);
    if (!fn) {
      fn = this.ajv.compile(def.parameters as JsonSchema & object);
      this.cache.set(def, fn);
    }
    return fn(params) ? [] : describeErrors(fn.errors);
  }
}
