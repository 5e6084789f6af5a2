/**
 * Fixed `pipeline` labels for what is not a loaded pipeline, so no caller can add series or write into
 * a live pipeline's: pipelines sent with the request (POST /execute), names that are not loaded, and
 * errors of routes that name no pipeline. They start with `_`; /ui/stats lists them apart, and no
 * config may name a pipeline so (config/sealed.ts).
 */
export const ADHOC_LABEL = '_execute';
export const UNKNOWN_LABEL = '_unknown';
export const OTHER_LABEL = '_other';
export const FIXED_LABELS: ReadonlySet<string> = new Set([ADHOC_LABEL, UNKNOWN_LABEL, OTHER_LABEL]);
