/**
 * Configs refused only because the registry could not be reached (REGISTRY_UNAVAILABLE, e.g. the
 * engine started before its registry) are proposed again with backoff until the registry answers,
 * so their pipelines come up on their own instead of waiting for the file to change. Configs
 * refused for what the registry held (a model not published yet, a newer version whose inputs they
 * lack) are proposed again when that answer changes (a publish, a roll back, an alias moved).
 */
import type { Diagnostic } from '../errors.js';

interface RetryableStore {
  allRejections(): readonly { readonly files?: readonly string[]; readonly diagnostics: readonly Diagnostic[] }[];
  retry(files: Iterable<string>): Promise<unknown>;
  onReload(fn: (e: { readonly kind: string; readonly diagnostics?: readonly Diagnostic[] }) => void): () => void;
}

export interface RegistryRetryOptions {
  /** First wait, ms (default 500); doubled after each failed try up to maxMs (default 30 s). */
  readonly minMs?: number;
  readonly maxMs?: number;
  /** Subscribes to changes of the registry's answers (ModelHub.onRegistryChange); returns the unsubscribe. */
  readonly onRegistryChange?: (fn: () => void) => () => void;
}

const waitingOnRegistry = (d: Diagnostic): boolean => d.code === 'REGISTRY_UNAVAILABLE' && d.file !== undefined;

/** Starts retrying; close() stops it. */
export function retryWhileRegistryDown(store: RetryableStore, opts: RegistryRetryOptions = {}): { close(): void } {
  const min = opts.minMs ?? 500;
  const max = opts.maxMs ?? 30_000;
  let delay = min;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const files = (): string[] => [...new Set(store.allRejections().flatMap((r) => r.diagnostics.filter(waitingOnRegistry).map((d) => d.file!)))];
  // Every rejected file goes with them: one may have been refused only for what a waiting file
  // defines (a pipeline using the presets of a file that holds a registry deployment).
  const rejected = (): string[] => [...new Set(store.allRejections().flatMap((r) => r.diagnostics.flatMap((d) => (d.file !== undefined ? [d.file] : []))))];
  const schedule = (): void => {
    if (timer || closed) return;
    timer = setTimeout(() => void tick(), delay);
    timer.unref();
  };
  const tick = async (): Promise<void> => {
    const waiting = files();
    if (closed || waiting.length === 0) { timer = undefined; delay = min; return; }
    await store.retry(rejected()).catch(() => undefined);
    timer = undefined;
    if (files().length === 0) { delay = min; return; }
    delay = Math.min(delay * 2, max);
    schedule();
  };
  const off = store.onReload((e) => { if (e.kind === 'rejected' && e.diagnostics?.some(waitingOnRegistry)) schedule(); });
  // Several swaps of one publish (one per binding) are one retry.
  let changeTimer: NodeJS.Timeout | undefined;
  const onChange = (): void => {
    if (closed || changeTimer) return;
    changeTimer = setTimeout(() => {
      changeTimer = undefined;
      // The refused files themselves too: a new file may be refused for errors of a loaded one
      // (a pipeline recompiled against a model version whose inputs it lacks).
      const files = [...new Set([...rejected(), ...store.allRejections().flatMap((r) => r.files ?? [])])];
      if (!closed && files.length > 0) void store.retry(files).catch(() => undefined);
    }, 50);
    changeTimer.unref();
  };
  const offChange = opts.onRegistryChange?.(onChange);
  schedule();
  return { close() { closed = true; clearTimeout(timer); clearTimeout(changeTimer); off(); offChange?.(); } };
}
