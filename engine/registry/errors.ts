/**
 * Registry errors. The codes live in the engine's one catalogue (`engine/errors.ts`): a stable
 * code, the HTTP status it maps to, and one sentence. Classify by `code`, never `instanceof`.
 */
import { ERRORS, type ErrorCode } from '../errors.js';

const REGISTRY_CODES = [
  'ENVELOPE_INVALID', 'NAME_INVALID', 'METRIC_INVALID', 'METRIC_CONFLICT', 'SAMPLE_INVALID', 'ARTIFACT_CORRUPT',
  'ARTIFACT_UNSAFE', 'ENVELOPE_NOT_FOUND', 'ARTIFACT_NOT_FOUND', 'QUERY_INVALID', 'REGISTRY_UNAVAILABLE',
] as const satisfies readonly ErrorCode[];

/** The registry's own codes: entries of the one catalogue (engine/errors.ts). */
export const REGISTRY_ERRORS = Object.fromEntries(REGISTRY_CODES.map((c) => [c, ERRORS[c]])) as { readonly [K in (typeof REGISTRY_CODES)[number]]: (typeof ERRORS)[K] };

export type RegistryErrorCode = keyof typeof REGISTRY_ERRORS;

/** Engine codes the registry reuses as they are. */
type ReusedCode = Extract<ErrorCode, 'MODEL_LOAD_FAILED' | 'MODEL_FAILED' | 'DEADLINE_EXCEEDED' | 'UNAUTHORIZED' | 'BODY_TOO_LARGE' | 'BODY_UNPARSABLE' | 'UNSUPPORTED_MEDIA_TYPE' | 'NOT_FOUND' | 'INTERNAL'>;

export type AnyRegistryCode = RegistryErrorCode | ReusedCode;

export function statusOf(code: AnyRegistryCode): number {
  return ERRORS[code].status;
}

export function isRegistryCode(code: unknown): code is AnyRegistryCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** Same fields as AirmailError (`code`, `status`, `details`), with codes of the same catalogue, so the engine classifies it by code. */
export class RegistryError extends Error {
  readonly code: AnyRegistryCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: AnyRegistryCode, message: string, opts: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RegistryError';
    this.code = code;
    this.details = opts.details;
  }

  get status(): number {
    return statusOf(this.code);
  }
}

/** The body of an error answer: the engine's shape (`error: true, code, reason`). */
export interface RegistryWireError {
  readonly error: true;
  readonly code: AnyRegistryCode;
  readonly reason: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Classify anything thrown by its `code`; unknown errors become INTERNAL. */
export function asRegistryError(err: unknown, fallback: AnyRegistryCode = 'INTERNAL'): RegistryError {
  if (err instanceof RegistryError) return err;
  const e = err as { code?: unknown; message?: unknown; details?: unknown } | null;
  if (e && isRegistryCode(e.code)) {
    const details = e.details && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : undefined;
    return new RegistryError(e.code, String(e.message ?? e.code), details ? { details } : {});
  }
  return new RegistryError(fallback, err instanceof Error ? err.message : String(err), { cause: err });
}

export function toRegistryWire(err: RegistryError): RegistryWireError {
  return err.details ? { error: true, code: err.code, reason: err.message, details: err.details } : { error: true, code: err.code, reason: err.message };
}
