/**
 * The admin plane's pieces that the app's middleware and admin routes share: which routes are admin
 * routes, the bearer-token check (constant time, on SHA-256 digests), what each admin request notes
 * for its audit entry, and the shape checks and error of an admin put. The routes themselves stay in
 * app.ts, beside the middleware that authenticates and audits them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { AirmailError, summarise, type Diagnostic } from '../errors.js';
import type { AuditEntry } from '../reliability/audit.js';
import { isPlainObject } from './body.js';

/** What an admin handler changed, for its audit entry. */
const auditNotes = new WeakMap<Request, Partial<AuditEntry>>();
export function noteAudit(c: Context, note: Partial<AuditEntry>): void {
  auditNotes.set(c.req.raw, { ...auditNotes.get(c.req.raw), ...note });
}

/** What the admin handlers of this request noted for its audit entry. */
export function auditNoteOf(c: Context): Partial<AuditEntry> {
  return auditNotes.get(c.req.raw) ?? {};
}

/** The admin routes (`POST /pipelines`, `DELETE /pipelines/{name}`): refused attempts at them are audited too. */
export function isAdminRoute(method: string, path: string): boolean {
  return (method === 'POST' && path === '/pipelines') || (method === 'DELETE' && path.startsWith('/pipelines/'));
}

/**
 * The configured token as it can be presented: a header value cannot end in a newline, and a token read
 * from a secret file or a Kubernetes Secret often does (that server answered every admin request 401).
 */
export function adminTokenOf(configured: string | undefined): string | undefined {
  const t = configured?.trim();
  return t ? t : undefined;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

export function tokenOk(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  // Digests, so that the comparison takes the same time whatever the presented length.
  return timingSafeEqual(sha256(m ? m[1]!.trim() : ''), sha256(token)) && m !== null;
}

/**
 * A config that fails its checks was rejected; an admin change that could not be saved (a read-only
 * configs directory) or would overwrite a shared file was refused, whatever the config: say which.
 */
const REFUSALS: readonly string[] = ['CONFIGS_NOT_WRITABLE', 'CONFIG_CONFLICT'];
export function diagnosticsError(diags: readonly Diagnostic[]): AirmailError {
  const first = diags[0];
  const lead = first && REFUSALS.includes(first.code) ? 'the change was refused' : 'the config was rejected';
  return new AirmailError(first?.code ?? 'CONFIG_INVALID', summarise(lead, diags.map((d) => `${d.line ? `${d.line}:${d.col ?? 0}: ` : ''}${d.message}`)), { diagnostics: diags });
}

/** The name of the pipeline an admin put (or its dry run) sends, once the body's shape is one an admin put takes. */
export function adminPutName(value: unknown): string {
  if (!isPlainObject(value) || !isPlainObject(value['pipeline'])) throw new AirmailError('CONFIG_INVALID', "the body must hold a 'pipeline:' (and optionally 'operators:' presets)");
  if ('experiments' in value) throw new AirmailError('CONFIG_INVALID', 'experiments are defined in the configs directory; admin POST /pipelines takes a pipeline (and operators: presets)');
  if ('datasets' in value || 'operator_paths' in value) throw new AirmailError('CONFIG_INVALID', 'pipelines added over HTTP may not define datasets or operator folders (operator_paths); put those in the configs directory');
  const name = value['pipeline']['name'];
  if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/.test(name)) throw new AirmailError('CONFIG_INVALID', 'pipeline.name must be a name of letters, digits, _ . -');
  return name;
}
