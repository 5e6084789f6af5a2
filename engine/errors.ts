/**
 * The one error catalogue. Every error the engine raises or returns carries a
 * stable code from here; HTTP status and classification come from the code,
 * never from `instanceof`. Errors crossing a worker boundary are rebuilt from
 * `{code, message, operator}` (see `toWire` / `fromWire`).
 */
export const ERRORS = {
  // config (load time)
  CONFIG_SYNTAX: { status: 400, summary: 'The config is not valid YAML or JSON.' },
  CONFIG_INVALID: { status: 422, summary: 'The config does not match the config schema.' },
  UNKNOWN_OPERATOR: { status: 422, summary: 'A step names an operator or preset that does not exist.' },
  BAD_PARAMETER: { status: 422, summary: 'An operator parameter is missing, of the wrong type or out of range.' },
  UNKNOWN_DATASET: { status: 422, summary: 'A dataset is named that no config defines.' },
  UNKNOWN_COLUMN: { status: 422, summary: 'A column is named that the dataset or frame does not have.' },
  UNKNOWN_REFERENCE: { status: 422, summary: 'A $reference names a context that the pipeline does not declare.' },
  DATASET_LOAD_FAILED: { status: 422, summary: 'A dataset file could not be read or decoded, or a column used as ids holds what is no exact id (a number past 2^53, a boolean).' },
  MODEL_LOAD_FAILED: { status: 422, summary: 'A model could not be loaded or does not fit its inputs.' },
  DUPLICATE_NAME: { status: 422, summary: 'Two configs define the same pipeline, dataset or operator name.' },
  CONFIG_CONFLICT: { status: 409, summary: "An admin change would overwrite or remove a file that also holds other entries; edit that file instead." },
  CONFIGS_NOT_WRITABLE: { status: 409, summary: 'An admin change cannot be saved: the configs directory cannot be written (a read-only mount such as a Kubernetes ConfigMap, or no permission); nothing was applied. Change the configs at their source.' },
  // requests
  BODY_UNPARSABLE: { status: 400, summary: 'The request body is not valid JSON or YAML.' },
  REQUEST_MALFORMED: { status: 400, summary: 'The request is not valid HTTP/1.1 (an unknown method, a malformed header, both Content-Length and Transfer-Encoding); the connection is closed.' },
  HEADERS_TOO_LARGE: { status: 431, summary: 'The request line and headers exceed the limit (16 KiB); the connection is closed.' },
  HEADER_INVALID: { status: 400, summary: 'A request header the engine reads has a value it cannot use (x-airmail-deadline-ms: a positive whole number of ms; x-airmail-debug: true/1/yes/on or false/0/no/off; x-airmail-debug-ids: a whole number).' },
  INPUT_INVALID: { status: 422, summary: 'The request inputs do not match the pipeline input schema.' },
  PIPELINE_NOT_FOUND: { status: 404, summary: 'No pipeline with that name is loaded.' },
  OPERATOR_NOT_FOUND: { status: 404, summary: 'No installed operator or preset has that name (GET /operators/{name}, airmail operators NAME).' },
  NOT_FOUND: { status: 404, summary: 'No such route.' },
  METHOD_NOT_ALLOWED: { status: 405, summary: 'The route exists for other methods; Allow lists them.' },
  UNAUTHORIZED: { status: 401, summary: 'Admin routes need the bearer token from AIRMAIL_ADMIN_TOKEN.' },
  REQUEST_TIMEOUT: { status: 408, summary: 'The client did not send its headers (or its whole request) within the header or request timeout; the connection is closed.' },
  BODY_TOO_LARGE: { status: 413, summary: 'The request body exceeds the configured limit.' },
  BATCH_TOO_LARGE: { status: 413, summary: 'A batch (POST /pipelines/{name}/batch) holds more requests than --max-batch allows (default 1,000), or, as an entry, an element not run because the answer already held 1,000,000 items; split it.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'The body must be application/json or application/yaml.' },
  OVERLOADED: { status: 503, summary: 'The worker queue is full; retry after the time in Retry-After.' },
  NOT_READY: { status: 503, summary: 'The engine is starting or shutting down.' },
  DEADLINE_EXCEEDED: { status: 504, summary: 'The request did not finish before its deadline.' },
  CLIENT_CLOSED: { status: 499, summary: 'The client closed the connection before the answer: the run was stopped (never written; counted as 499, as NGINX logs it).' },
  // execution
  SOURCE_FAILED: { status: 200, summary: 'A source failed; the response has error: true and names it.' },
  OPERATOR_FAILED: { status: 500, summary: 'An operator raised an error while running.' },
  MODEL_FAILED: { status: 500, summary: 'A model failed while scoring.' },
  WORKER_FAILED: { status: 500, summary: 'The worker running the request exited or ran out of heap; only this request failed and the worker was replaced.' },
  INTERNAL: { status: 500, summary: 'An unexpected engine error.' },
  // model registry (engine/registry, registry-client)
  ENVELOPE_INVALID: { status: 422, summary: 'The envelope misses a required tag or field, or a value is malformed.' },
  NAME_INVALID: { status: 422, summary: 'A model, alias or tag name is not [A-Za-z0-9._-], contains "..", or is __proto__, constructor or prototype.' },
  METRIC_INVALID: { status: 422, summary: 'A metric does not match its JSON Schema.' },
  METRIC_CONFLICT: { status: 409, summary: 'The version already has a metric of that name; metrics are added, never replaced.' },
  SAMPLE_INVALID: { status: 422, summary: 'The sample table cannot be decoded or does not fit the function shape.' },
  ARTIFACT_CORRUPT: { status: 422, summary: 'The artifact bytes do not match their sha256.' },
  ARTIFACT_UNSAFE: { status: 422, summary: 'The artifact refers to files outside itself (ONNX external data) or is otherwise unsafe to load.' },
  ENVELOPE_NOT_FOUND: { status: 404, summary: 'No envelope matches the name, version, alias or tag query.' },
  ARTIFACT_NOT_FOUND: { status: 404, summary: 'No artifact with that sha256 is stored.' },
  QUERY_INVALID: { status: 400, summary: 'The tag query cannot be parsed, or a query parameter the engine reads (?debug) has a value it cannot use.' },
  REGISTRY_UNAVAILABLE: { status: 502, summary: 'The registry could not be reached or answered with something unexpected.' },
} as const satisfies Record<string, { status: number; summary: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** One problem in a config: where (file + line/column or JSON pointer) and what. */
export interface Diagnostic {
  readonly code: ErrorCode;
  readonly message: string;
  readonly file?: string;
  /** JSON pointer into the config document. */
  readonly pointer?: string;
  readonly line?: number;
  readonly col?: number;
}

export class AirmailError extends Error {
  readonly code: ErrorCode;
  /** Name of the pipeline step (preset or operator) that raised it, when known. */
  operator: string | undefined;
  readonly diagnostics: readonly Diagnostic[];
  readonly details: Readonly<Record<string, unknown>> | undefined;
  /** The code an operator's own error carried when it is not one a step may fail with (see `stepError`). */
  readonly operatorCode: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { operator?: string; diagnostics?: readonly Diagnostic[]; details?: Record<string, unknown>; cause?: unknown; operatorCode?: string } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AirmailError';
    this.code = code;
    this.operator = opts.operator;
    this.diagnostics = opts.diagnostics ?? [];
    this.details = opts.details;
    this.operatorCode = opts.operatorCode;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  /**
   * The same error without a stack trace, for refusals made on every request under load (an
   * overload 503): where it was raised says nothing, and capturing the stack took 7 % of the main
   * thread at 2x the peak, in a profile.
   */
  static withoutStack(...args: ConstructorParameters<typeof AirmailError>): AirmailError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new AirmailError(...args);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}

/**
 * What an error body and its headers are built from: an AirmailError, or a refusal made before any
 * error object exists (an overload 503 written before the app, see server.ts).
 */
export interface ErrorLike {
  readonly code: ErrorCode;
  readonly message: string;
  readonly operator?: string | undefined;
  readonly diagnostics?: readonly Diagnostic[];
  readonly details?: Readonly<Record<string, unknown>> | undefined;
  readonly operatorCode?: string | undefined;
}

export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly operator?: string;
  readonly operatorCode?: string;
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** Classify anything thrown into a coded error (by code, not by class). */
export function asAirmailError(err: unknown, fallback: ErrorCode = 'INTERNAL'): AirmailError {
  if (err instanceof AirmailError) return err;
  const e = err as { code?: unknown; message?: unknown; operator?: unknown } | null;
  if (e && isErrorCode(e.code)) {
    return new AirmailError(e.code, String(e.message ?? e.code), {
      operator: typeof e.operator === 'string' ? e.operator : undefined,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new AirmailError(fallback, message, { cause: err });
}

/**
 * The codes a step (an operator, and the engine code it calls: frame columns, datasets, models,
 * remote fetches, the deadline) fails with and keeps, with their catalogue status. Any other code an
 * operator's error carries, its own ('OUT_OF_STOCK') or a catalogue code that means something else
 * at the HTTP layer (401, 404, 413, 503 with Retry-After, ...), is reported as OPERATOR_FAILED (500)
 * with that code in `operatorCode`: an operator cannot make a request look unauthorised or overloaded.
 */
const STEP_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'OPERATOR_FAILED', 'MODEL_FAILED', 'MODEL_LOAD_FAILED', 'SOURCE_FAILED', 'DEADLINE_EXCEEDED',
  'INPUT_INVALID', 'UNKNOWN_COLUMN', 'UNKNOWN_DATASET', 'INTERNAL',
]);

/** An error thrown while a step ran, classified by its code (see STEP_CODES). */
export function stepError(err: unknown, operator?: string): AirmailError {
  const code = (err as { code?: unknown } | null)?.code;
  if (isErrorCode(code) && STEP_CODES.has(code)) {
    const e = asAirmailError(err);
    e.operator ??= operator;
    return e;
  }
  const own = typeof code === 'string' || typeof code === 'number' ? String(code).slice(0, 100) : undefined;
  const message = err instanceof Error ? err.message : String(err);
  const at = (err as { operator?: unknown } | null)?.operator;
  return new AirmailError('OPERATOR_FAILED', message, {
    cause: err,
    ...(typeof at === 'string' ? { operator: at } : operator !== undefined ? { operator } : {}),
    ...(own ? { operatorCode: own } : {}),
  });
}

export function toWire(err: AirmailError): WireError {
  return { code: err.code, message: err.message, ...(err.operator ? { operator: err.operator } : {}), ...(err.operatorCode ? { operatorCode: err.operatorCode } : {}) };
}

export function fromWire(w: WireError): AirmailError {
  return new AirmailError(w.code, w.message, { operator: w.operator, ...(w.operatorCode ? { operatorCode: w.operatorCode } : {}) });
}

/** Human-readable one-line form of a diagnostic: `file:line:col: message`. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = [d.file, d.line !== undefined ? String(d.line) : undefined, d.col !== undefined ? String(d.col) : undefined]
    .filter((x) => x !== undefined)
    .join(':');
  const ptr = d.pointer !== undefined && d.pointer !== '' ? ` (at ${d.pointer})` : '';
  return `${where ? `${where}: ` : ''}${d.message}${ptr} [${d.code}]`;
}

/**
 * Bounds on what an error answer echoes, so a body made to fail many times (50,000 unknown keys)
 * cannot make the answer larger than the request: at most MAX_LISTED errors are listed (the rest
 * counted), `reason` names the first REASON_LISTED, and each echoed value is cut to ECHO_CHARS.
 */
export const MAX_LISTED = 20;
export const REASON_LISTED = 3;
export const ECHO_CHARS = 80;
/** How much of a request's path, or of a name taken from it, an error shows: a name has at most 128 characters, a route few more. */
export const PATH_CHARS = 200;

/** `s` cut to `max` characters, with '...' saying that it was. */
export function clip(s: string, max = ECHO_CHARS): string {
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** `lead: a; b; c` for the first REASON_LISTED lines, then `(and N more)`. */
export function summarise(lead: string, lines: readonly string[]): string {
  const shown = lines.slice(0, REASON_LISTED).map((l) => clip(l, 240));
  const more = lines.length - shown.length;
  return `${lead}: ${shown.join('; ')}${more > 0 ? ` (and ${more} more)` : ''}`;
}

/** The first MAX_LISTED entries of a list of errors, and how many were left off. */
export function boundErrors<T>(list: readonly T[]): { errors: T[]; truncated: number } {
  return { errors: list.slice(0, MAX_LISTED), truncated: Math.max(0, list.length - MAX_LISTED) };
}

/** The error of a request whose client closed the connection before its answer (499; no stack: no fault of the server's). */
export function clientClosedError(cause?: unknown): AirmailError {
  return AirmailError.withoutStack('CLIENT_CLOSED', 'the client closed the connection before the answer', cause === undefined ? {} : { cause });
}
