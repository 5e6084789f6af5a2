/**
 * YAML request bodies are parsed off the main thread. The YAML parser takes 2–8 µs a byte (a
 * 1 MiB body of flow lists: seconds), and on the main thread that time is taken from every other
 * request, `/health` included: one anonymous YAML body of inputs stalled the server for 3.4 s.
 * A small body (most YAML bodies: a few inputs) is parsed in place; a larger one goes to one
 * thread of its own, whose queue and time are bounded: past `YAML_OFFLOAD.maxQueue` waiting it
 * is a 503 `OVERLOADED`, and a body not parsed within `YAML_OFFLOAD.budgetMs` (queue included) is a
 * 413 `BODY_TOO_LARGE` (the thread is stopped and replaced). JSON bodies never come here.
 */
import { Piscina } from 'piscina';
import { AirmailError } from '../errors.js';
import yamlInPlace, { type YamlParsed } from './yaml-worker.js';

export const YAML_OFFLOAD = {
  /** Bodies up to this many bytes are parsed on the calling thread (at most a few ms). */
  inPlaceBytes: 2048,
  /** Bodies waiting for the parse thread before more are refused. */
  maxQueue: 8,
  /** The most a body may take to be parsed, its wait included. */
  budgetMs: 5000,
};

const IS_TS = import.meta.url.endsWith('.ts');
let pool: Piscina | undefined;

function parser(): Piscina {
  // Idle, piscina unrefs its thread, so the parser never keeps a process alive.
  pool ??= new Piscina({
    ...(IS_TS
      ? { filename: new URL('../workers/ts-bootstrap.mjs', import.meta.url).href, workerData: { tsWorker: new URL('./yaml-worker.ts', import.meta.url).href } }
      : { filename: new URL('./yaml-worker.js', import.meta.url).href }),
    minThreads: 0,
    maxThreads: 1,
    concurrentTasksPerWorker: 1,
    idleTimeout: 30_000,
    resourceLimits: { maxOldGenerationSizeMb: 512 },
  });
  return pool;
}

export async function parseYamlBody(text: string): Promise<YamlParsed> {
  if (Buffer.byteLength(text) <= YAML_OFFLOAD.inPlaceBytes) return yamlInPlace(text);
  const p = parser();
  if (p.queueSize >= YAML_OFFLOAD.maxQueue) {
    throw new AirmailError('OVERLOADED', `${p.queueSize} YAML bodies are waiting to be parsed; retry later, or send JSON`, { details: { retryAfterMs: 1000 } });
  }
  const signal = AbortSignal.timeout(YAML_OFFLOAD.budgetMs);
  try {
    return (await p.run(text, { signal })) as YamlParsed;
  } catch (err) {
    if (signal.aborted) {
      throw new AirmailError('BODY_TOO_LARGE', `the YAML body was not parsed within ${YAML_OFFLOAD.budgetMs} ms: send it as JSON, or a smaller one`);
    }
    throw err;
  }
}
