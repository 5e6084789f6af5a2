/**
 * Registry error codes, kept in the shape of the engine's catalogue
 * (`engine/errors.ts`) so they can be merged into it: a stable code, the HTTP
 * status it maps to, and one sentence. Classify by `code`, never `instanceof`.
 */
import { ERRORS, type ErrorCode } from '../errors.js';

export const REGISTRY_ERRORS = {
  ENVELOPE_INVALID: { status: 422, summary: 'The envelope misses a required tag or field, or a value is malformed.' },
  NAME_INVALID: { status: 422, summary: 'A model, alias or tag name is not [A-Za-z0-9._-] or contains "..".' },
  METRIC_INVALID: { status: 422, summary: 'A metric does not match its JSON Schema.' },
  METRIC_CONFLICT: { status: 409, summary: 'The version already has a metric of that name; metrics are added, never replaced.' },
  SAMPLE_INVALID: { status: 422, summary: 'The sample table cannot be decoded or does not fit the function shape.' },
  ARTIFACT_CORRUPT: { status: 422, summary: 'The artifact bytes do not match their sha256.' },
  ARTIFACT_UNSAFE: { status: 422, summary: 'The artifact refers to files outside itself (ONNX external data) or is otherwise unsafe to load.' },
  ENVELOPE_NOT_FOUND: { status: 404, summary: 'No envelope matches the name, version, alias or tag query.' },
  ARTIFACT_NOT_FOUND: { status: 404, summary: 'No artifact with that sha256 is stored.' },
  QUERY_INVALID: { status: 400, summary: 'The tag query cannot be parsed.' },
  REGISTRY_UNAVAILABLE: { status: 502, summary: 'The registry could not be reached or answered with something unexpected.' },
} as const satisfies Record<string, { status: number; summary: string }>;

export type RegistryErrorCode = keyof typeof REGISTRY_ERRORS;

/** Engine codes the registry reuses as they are. */
type ReusedCode = Extract<ErrorCode, 'MODEL_LOAD_FAILED' | 'MODEL_FAILED' | 'UNAUTHORIZED' | 'BODY_TOO_LARGE' | 'BODY_UNPARSABLE' | 'UNSUPPORTED_MEDIA_TYPE' | 'NOT_FOUND' | 'INTERNAL'>;

export type AnyRegistryCode = RegistryErrorCode | ReusedCode;

export function statusOf(code: AnyRegistryCode): number {
  return Object.hasOwn(REGISTRY_ERRORS, code) ? REGISTRY_ERRORS[code as RegistryErrorCode].status : ERRORS[code as ReusedCode].status;
}

export function isRegistryCode(code: unknown): code is AnyRegistryCode {
  return typeof code === 'string' && (Object.hasOwn(REGISTRY_ERRORS, code) || Object.hasOwn(ERRORS, code));
}

/** Same fields as AirmailError (`code`, `status`, `details`); becomes one once the codes are merged. */
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

export interface RegistryWireError {
  readonly code: AnyRegistryCode;
  readonly message: string;
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
  return err.details ? { code: err.code, message: err.message, details: err.details } : { code: err.code, message: err.message };
}
