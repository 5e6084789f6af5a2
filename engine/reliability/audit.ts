/**
 * The admin plane's audit log: one JSON line per admin request (changes and
 * refused attempts), appended in order to a file. Writes never block or fail
 * a request; a write error is reported once as a process warning.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { AirmailError } from '../errors.js';
import { dirname } from 'node:path';

export interface AuditEntry {
  /** ISO time the request finished. */
  readonly at: string;
  /** e.g. `pipeline.put`, `pipeline.delete`, or the route for others. */
  readonly action: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly outcome: 'applied' | 'rejected' | 'denied';
  readonly remote?: string;
  /** First 12 hex digits of an HMAC-SHA256 of the token presented, keyed per process: entries of one run tell tokens apart; nothing can be checked against a guess offline. */
  readonly token?: string;
  readonly pipeline?: string;
  readonly version_before?: string | null;
  readonly version_after?: string | null;
  readonly reason?: string;
}

export type AuditSink = (entry: AuditEntry) => void;

/** A random key of this process: an unsalted hash prefix of a short token could be brute-forced from the log. */
const FINGERPRINT_KEY = randomBytes(32);

export function tokenFingerprint(token: string): string {
  return createHmac('sha256', FINGERPRINT_KEY).update(token).digest('hex').slice(0, 12);
}

export class AuditLog {
  readonly path: string;
  private chain: Promise<void>;
  private warned = false;

  constructor(path: string) {
    this.path = path;
    this.chain = mkdir(dirname(path), { recursive: true }).then(() => undefined, () => undefined);
  }

  /**
   * The log at `path`, once it is known to be writable: a folder that cannot be made or a file that
   * cannot be opened fails the start with the reason, rather than a warning at the first admin
   * request (every change unaudited until then). A file system that does not answer within
   * `timeoutMs` fails it too (Node's recursive mkdir under /proc never returns).
   */
  static async open(path: string, timeoutMs = 2000): Promise<AuditLog> {
    const log = new AuditLog(path);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the file system did not answer within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
    });
    try {
      await Promise.race([log.chain.then(() => appendFile(path, '', { mode: 0o600 })), late]);
    } catch (err) {
      throw new AirmailError('CONFIG_INVALID', `cannot write the audit log ${path}: ${(err as Error).message}; give --audit-log (AIRMAIL_AUDIT_LOG) a file in a writable folder`);
    } finally {
      clearTimeout(timer);
    }
    return log;
  }

  /** Appends one line (in call order). */
  readonly record: AuditSink = (entry) => {
    const line = `${JSON.stringify(entry)}\n`;
    this.chain = this.chain.then(() => appendFile(this.path, line, { mode: 0o600 })).catch((err: unknown) => {
      if (this.warned) return;
      this.warned = true;
      process.emitWarning(`cannot write the audit log ${this.path}: ${(err as Error).message}`, { code: 'AIRMAIL_AUDIT_FAILED' });
    });
  };

  /** Resolves once every entry recorded so far is written. */
  flush(): Promise<void> {
    return this.chain;
  }
}
