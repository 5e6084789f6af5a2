/**
 * What the config store tells its users: a pipeline's served version, each reload applied or
 * rejected, and each admin change applied (config-store.ts emits them; replication, logs, metrics
 * and the UI listen).
 */
import type { Diagnostic } from '../errors.js';

export interface PipelineStatus {
  readonly version: string;
  readonly loadedAt: string;
  readonly file: string;
}

/**
 * `cleared`: a rejected file was put back as the text serving, so its rejection is over and nothing
 * is applied (no reload: the version serving stays).
 */
export interface ReloadEvent {
  readonly kind: 'applied' | 'rejected' | 'cleared';
  readonly files: readonly string[];
  readonly at: string;
  readonly diagnostics?: readonly Diagnostic[];
}

/** An admin change that was applied (POST/DELETE /pipelines, or a replica applying one); `origin` says who asked. */
export interface AdminChange {
  readonly op: 'put' | 'remove';
  readonly name: string;
  /** The new file text (put only). */
  readonly text?: string;
  readonly origin?: string;
}
