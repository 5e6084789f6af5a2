/**
 * The chaos scenario: the standard workload under load while configs reload,
 * models are published (a registry pipeline swaps to each new version), Redis
 * is paused (blackholed, not refused), workers are killed (from outside, and
 * by a request whose operator exits), and malformed requests arrive.
 * Every request that should succeed is checked against the answer it got
 * before the chaos began; the report counts lost (no answer or not 200) and
 * wrong (different items) responses, which must both be zero.
 *
 *   npx tsx loadtest/chaos.ts                    # 60 s on ../shared/bench (or the demo)
 *   npx tsx loadtest/chaos.ts --duration 10 --workload demo --json chaos.json
 *
 * Exit status 1 when anything was lost or wrong. test/reliability-chaos.test.ts
 * runs it for a few seconds in `npm test`.
 */
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { builtinOperators } from '../operators/index.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import { startServer, type RunningServer } from '../engine/server.js';
import { HAS_REDIS, startRedis, type RedisServer } from '../test/redis-server.js';
import { Histogram } from './histogram.js';
import { cli } from './args.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = join(ROOT, '../shared/bench');
const FIXTURE_OPERATORS = join(ROOT, 'test/fixtures/operators');
const OPERATORS_URL = new URL(`../operators/index.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url).href;

export interface ChaosOptions {
  readonly durationMs: number;
  /** The standard workload (default when ../shared/bench exists) or the demo configs. */
  readonly workload?: 'bench' | 'demo';
  /** Closed-loop clients (default 8). */
  readonly concurrency?: number;
  readonly threads?: number;
  /** Use a real redis-server for RedisSource and the remote cache (default: when installed). */
  readonly redis?: boolean;
  readonly log?: (line: string) => void;
  /** How often each disturbance happens, in ms (0 turns one off). */
  readonly every?: Partial<Record<'reload' | 'publish' | 'redisPause' | 'workerKill' | 'poison' | 'malformed', number>>;
}

export interface ChaosReport {
  readonly workload: 'bench' | 'demo';
  readonly durationMs: number;
  /** Requests that should succeed. */
  readonly requests: number;
  readonly ok: number;
  /** No response, or a status other than 200. */
  readonly lost: number;
  /** 200 with items other than the ones before the chaos. */
  readonly wrong: number;
  /** RedisSource answers with error: true naming the step (Redis away and nothing stale to serve). */
  readonly degraded: number;
  readonly examples: readonly string[];
  readonly malformed: { readonly sent: number; readonly answered4xx: number };
  readonly poison: { readonly sent: number; readonly answered500: number };
  readonly events: { readonly reloads: number; readonly publishes: number; readonly modelSwaps: number; readonly redisPauses: number; readonly workerKills: number };
  /** Model versions named by the registry pipeline's answers (more than one: swaps happened under load). */
  readonly modelVersionsSeen: readonly string[];
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

interface Probe {
  readonly path: string;
  readonly body: string;
  readonly redis: boolean;
  expected?: string;
}

const MALFORMED: readonly { path: string; type: string; body: string }[] = [
  { path: '/pipelines/complimentary_items', type: 'application/json', body: '{"client_id": 1,' },
  { path: '/pipelines/complimentary_items', type: 'application/json', body: '{"client_id": "x", "product_id": 2}' },
  { path: '/pipelines/complimentary_items', type: 'application/json', body: '{"client_id": 1, "product_id": 2, "__proto__": {"a": 1}}' },
  { path: '/pipelines/complimentary_items', type: 'application/json', body: `{"pad": "${'x'.repeat(2 * 1024 * 1024)}"}` },
  { path: '/pipelines/complimentary_items', type: 'text/csv', body: 'a,b' },
  { path: '/pipelines/no_such_pipeline', type: 'application/json', body: '{}' },
  { path: '/execute', type: 'application/yaml', body: 'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]' },
  { path: '/execute', type: 'application/json', body: `{"pipeline": ${'['.repeat(10_000)}${']'.repeat(10_000)}}` },
  { path: '/execute', type: 'application/json', body: '{"operator_paths": ["/tmp"], "pipeline": {"name": "x", "item_type": "sku_id"}}' },
];

/** The same rows in the same order, with the same columns; numbers equal to 1e-5. */
export function sameItems(a: string, b: string): boolean {
  if (a === b) return true;
  const x = JSON.parse(a) as Record<string, unknown>[];
  const y = JSON.parse(b) as Record<string, unknown>[];
  if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
  return x.every((row, i) => Object.keys(row).length === Object.keys(y[i]!).length && Object.entries(row).every(([k, v]) => {
    const w = y[i]![k];
    return typeof v === 'number' && typeof w === 'number' ? Math.abs(v - w) <= 1e-5 : v === w;
  }));
}

const FEATURES = [...Array.from({ length: 16 }, (_, i) => `f${i}`), ...Array.from({ length: 8 }, (_, i) => `c${i}`)];

async function chaosConfigs(workload: 'bench' | 'demo', redis: boolean): Promise<{ dir: string; main: string; mainText: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'airmail-chaos-'));
  if (workload === 'bench') {
    const src = join(ROOT, 'loadtest/bench-configs');
    for (const f of await readdir(src)) {
      if (!/\.ya?ml$/.test(f)) continue;
      const text = (await readFile(join(src, f), 'utf8')).replaceAll('../../../shared/bench/', `${BENCH}/`);
      await writeFile(join(dir, f), text);
    }
  } else {
    await cp(join(ROOT, 'configs'), dir, { recursive: true });
  }
  const extra = [
    `operator_paths: [${JSON.stringify(FIXTURE_OPERATORS)}]`,
    'operators:',
    '  ChaosPsale:',
    '    use: ModelScore',
    `    parameters: {model: {tags: {name: chaos_psale, stage: prod}}, features: [${FEATURES.map((f) => (f.startsWith('c') ? `$client.${f}` : f)).join(', ')}]}`,
    'pipelines:',
    // complimentary_items with its model from the registry: the answers equal complimentary_items'.
    '- name: chaos_registry',
    '  item_type: sku_id',
    '  initialization:',
    '    includes: [AvailableInventory, MatchClientSize]',
    '    excludes: [PreviouslyPurchased]',
    '    scores: [ChaosPsale]',
    '  operations:',
    '  - {name: Hydrate, parameters: {columns: [department, product_id]}}',
    '  - MatchDepartment',
    '  - {name: DiverseSample, parameters: {n: 10, maximize: chaos_psale, by: product_id}}',
    '  - {name: Sort, parameters: {by: score, desc: true}}',
    '  return: [sku_id, product_id, score]',
    '- name: chaos_poison',
    '  item_type: sku_id',
    '  initialization: {includes: [{name: Static, parameters: {items: [1]}}]}',
    '  operations: [{name: Fault, parameters: {mode: exit}}]',
  ];
  if (redis) {
    extra.push(
      '- name: chaos_redis',
      '  item_type: sku_id',
      '  initialization:',
      "    includes: [{name: RedisSource, parameters: {key: 'chaos:recs:{client_id}', type: list, vars: {client_id: $client_id}, ttl_ms: 300, stale_if_error_ms: 600000, timeout_ms: 50, retries: 1, backoff_ms: 10}}]",
      '  operations: [{name: Hydrate, parameters: {columns: [product_id]}}]',
      '  return: [sku_id, product_id]',
      '  inputs: {client_id: {type: integer}}',
    );
  }
  await writeFile(join(dir, 'chaos.yaml'), `${extra.join('\n')}\n`);
  const main = join(dir, 'complimentary_items.yaml');
  return { dir, main, mainText: await readFile(main, 'utf8') };
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const workload = opts.workload ?? (existsSync(join(BENCH, 'catalog.arrow')) ? 'bench' : 'demo');
  const useRedis = opts.redis ?? HAS_REDIS;
  const log = opts.log ?? (() => undefined);
  let redis: RedisServer | undefined;
  let srv: RunningServer | undefined;
  let client: Pool | undefined;
  const prevRedisUrl = process.env['REDIS_URL'];
  const timers: NodeJS.Timeout[] = [];
  try {
    if (useRedis) {
      redis = await startRedis();
      const r = new Redis(redis.url, { lazyConnect: true });
      await r.connect();
      for (let c = 1; c <= 8; c++) await r.rpush(`chaos:recs:${c}`, ...Array.from({ length: 20 }, (_, i) => String(1 + ((c * 97 + i * 31) % 5000))));
      await r.quit();
      process.env['REDIS_URL'] = redis.url;
    }
    // A registry folder with the workload's model; each publish during the run is a new version of it.
    const registryDir = await mkdtemp(join(tmpdir(), 'airmail-chaos-registry-'));
    const registry = await RegistryStore.open(registryDir, { create: true });
    const modelFile = workload === 'bench' ? join(BENCH, 'psale_gbdt.onnx') : join(ROOT, 'configs/models/psale_demo.onnx');
    const publish = (): Promise<unknown> => publishModel({ artifact: modelFile, flavor: 'onnx', name: 'chaos_psale', description: 'the workload model, published again', tags: { stage: 'prod' }, inputs: FEATURES.map((name) => ({ name, type: 'float32' as const })) }, registry);
    await publish();
    const cfg = await chaosConfigs(workload, useRedis);
    srv = await startServer({
      configs: cfg.dir, operators: builtinOperators, operatorModules: [OPERATORS_URL],
      port: 0, host: '127.0.0.1', threads: opts.threads ?? 2, registry: registryDir, modelHub: { log: () => undefined },
    });
    if (srv.startErrors.length > 0) throw new Error(`chaos configs do not load: ${JSON.stringify(srv.startErrors).slice(0, 500)}`);
    client = new Pool(srv.url, { connections: (opts.concurrency ?? 8) + 4 });
    const pool = client;
    const send = async (path: string, body: string, type = 'application/json'): Promise<{ status: number; text: string }> => {
      const r = await pool.request({ path, method: 'POST', headers: { 'content-type': type }, body });
      return { status: r.statusCode, text: await r.body.text() };
    };

    // ---- the answers before any chaos
    const probes: Probe[] = [];
    for (let i = 0; i < 24; i++) {
      const client_id = 1 + ((i * 7919) % (workload === 'bench' ? 20_000 : 200));
      const product_id = 1 + ((i * 104_729) % (workload === 'bench' ? 10_000 : 100));
      probes.push({ path: '/pipelines/complimentary_items', body: JSON.stringify({ client_id, product_id }), redis: false });
      if (i < 8) probes.push({ path: '/pipelines/chaos_registry', body: JSON.stringify({ client_id, product_id }), redis: false });
    }
    if (useRedis) for (let c = 1; c <= 8; c++) probes.push({ path: '/pipelines/chaos_redis', body: JSON.stringify({ client_id: c }), redis: true });
    for (const p of probes) {
      const r = await send(p.path, p.body);
      if (r.status !== 200) throw new Error(`baseline ${p.path} ${p.body} → ${r.status} ${r.text.slice(0, 300)}`);
      p.expected = JSON.stringify((JSON.parse(r.text) as { items: unknown }).items);
    }
    log(`chaos: ${workload} workload, ${probes.length} probes, redis ${useRedis ? 'on' : 'off'}, ${opts.durationMs} ms`);

    // ---- chaos
    const events = { reloads: 0, publishes: 0, modelSwaps: 0, redisPauses: 0, workerKills: 0 };
    const every = { reload: 700, publish: 5000, redisPause: 5000, workerKill: 10_000, poison: 15_000, malformed: 100, ...opts.every };
    const repeat = (ms: number, fn: () => void): void => {
      if (ms > 0) timers.push(setInterval(fn, ms));
    };
    const unhook = srv.engine.store.onReload((e) => e.kind === 'applied' && events.reloads++);
    const side: Promise<void>[] = [];
    let flip = false;
    repeat(every.reload, () => {
      flip = !flip;
      void writeFile(cfg.main, flip ? cfg.mainText.replace(/\n?$/, '\n  deadline_ms: 9000\n') : cfg.mainText);
    });
    const unhookSwaps = srv.engine.models?.onSwap(() => events.modelSwaps++);
    const versionsSeen = new Set<string>();
    repeat(every.publish, () => {
      side.push(publish().then(() => void events.publishes++, (err: unknown) => log(`publish failed: ${(err as Error).message}`)));
    });
    const rs = redis;
    if (rs) {
      repeat(every.redisPause, () => {
        rs.pause();
        events.redisPauses++;
        setTimeout(() => rs.resume(), Math.min(1500, every.redisPause / 2));
      });
    }
    const runner = srv.engine.runner as { killWorker?: () => boolean; readyWorkers?: () => number; readonly threads?: number };
    // A worker dies in a pool that is up: the kill waits until every worker has started (on a starved
    // machine a worker takes seconds to start, and kills faster than that are a crash loop that
    // leaves no worker to serve, not a worker dying). killWorker also passes over a worker inside
    // onnxruntime (stopping it there aborts the process). Either way: try again shortly.
    let running = true;
    const kill = (): void => {
      const allUp = (runner.readyWorkers?.() ?? 0) >= (runner.threads ?? 1);
      if (allUp && runner.killWorker?.()) events.workerKills++;
      else if (running) setTimeout(kill, 10);
    };
    repeat(every.workerKill, () => kill());
    const malformed = { sent: 0, answered4xx: 0 };
    const poison = { sent: 0, answered500: 0 };
    repeat(every.malformed, () => {
      const m = MALFORMED[malformed.sent % MALFORMED.length]!;
      malformed.sent++;
      side.push(send(m.path, m.body, m.type).then((r) => void (r.status >= 400 && r.status < 500 && malformed.answered4xx++), () => undefined));
    });
    repeat(every.poison, () => {
      poison.sent++;
      side.push(send('/pipelines/chaos_poison', '{}').then((r) => void (r.status === 500 && poison.answered500++), () => undefined));
    });

    // ---- load
    const latency = new Histogram();
    const examples: string[] = [];
    let requests = 0, ok = 0, lost = 0, wrong = 0, degraded = 0;
    const end = Date.now() + opts.durationMs;
    const loop = async (seed: number): Promise<void> => {
      for (let i = seed; Date.now() < end; i += 7) {
        const p = probes[i % probes.length]!;
        requests++;
        const t0 = performance.now();
        try {
          const r = await send(p.path, p.body);
          latency.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          const body = JSON.parse(r.text) as { items?: unknown; error?: boolean; operator?: string; models?: Record<string, string> };
          for (const v of Object.values(body.models ?? {})) versionsSeen.add(v);
          if (r.status !== 200) {
            lost++;
            if (examples.length < 10) examples.push(`${p.path} ${p.body} → ${r.status} ${r.text.slice(0, 200)}`);
          } else if (p.redis && body.error === true && body.operator) degraded++;
          else if (!sameItems(JSON.stringify(body.items), p.expected!)) {
            wrong++;
            if (examples.length < 10) examples.push(`${p.path} ${p.body} → different items`);
          } else ok++;
        } catch (err) {
          lost++;
          if (examples.length < 10) examples.push(`${p.path} ${p.body} → ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, (_, k) => loop(k)));
    running = false;
    timers.forEach(clearInterval);
    await Promise.all(side);
    unhook();
    unhookSwaps?.();
    const report: ChaosReport = {
      workload, durationMs: opts.durationMs, requests, ok, lost, wrong, degraded, examples, malformed, poison, events, modelVersionsSeen: [...versionsSeen].sort(),
      latencyMs: { p50: latency.percentile(50) / 1000, p99: latency.percentile(99) / 1000, max: latency.max / 1000 },
    };
    log(formatChaos(report));
    return report;
  } finally {
    timers.forEach(clearInterval);
    redis?.resume();
    await client?.close().catch(() => undefined);
    await srv?.close();
    await redis?.stop();
    if (prevRedisUrl === undefined) delete process.env['REDIS_URL'];
    else process.env['REDIS_URL'] = prevRedisUrl;
  }
}

export function formatChaos(r: ChaosReport): string {
  return [
    `## Chaos (${r.workload}, ${(r.durationMs / 1000).toFixed(0)} s)`,
    '',
    '| should succeed | ok | lost | wrong | degraded (error: true, step named) | p50 ms | p99 ms |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    `| ${r.requests} | ${r.ok} | ${r.lost} | ${r.wrong} | ${r.degraded} | ${r.latencyMs.p50.toFixed(1)} | ${r.latencyMs.p99.toFixed(1)} |`,
    '',
    `Chaos: ${r.events.reloads} config reloads, ${r.events.publishes} models published (${r.events.modelSwaps} swaps; answers named ${r.modelVersionsSeen.length} versions), ` +
      `${r.events.redisPauses} Redis pauses, ${r.events.workerKills} workers killed, ` +
      `${r.poison.sent} poison requests (${r.poison.answered500} answered 500), ${r.malformed.sent} malformed requests (${r.malformed.answered4xx} answered 4xx).`,
    ...(r.examples.length ? ['', 'Examples:', ...r.examples.map((e) => `- ${e}`)] : []),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const values = cli('npx tsx loadtest/chaos.ts', 'The standard workload under load while configs reload, models are published, Redis pauses, workers die and malformed requests arrive; exit 1 if any answer that should succeed was lost or wrong.', {
    duration: { type: 'string', default: '60', number: { min: 1 }, help: 'seconds' },
    workload: { type: 'string', choices: ['bench', 'demo'], help: 'bench (the standard workload, when present) or demo' },
    concurrency: { type: 'string', number: { min: 1, integer: true }, help: 'requests in flight (default 8)' },
    json: { type: 'string', value: 'FILE', help: 'also write the report as JSON' },
    'no-redis': { type: 'boolean', help: 'run without Redis (no Redis source, no pauses)' },
  });
  const report = await runChaos({
    durationMs: Number(values.duration) * 1000,
    ...(values.workload ? { workload: values.workload as 'bench' | 'demo' } : {}),
    ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
    ...(values['no-redis'] ? { redis: false } : {}),
    log: (l) => process.stdout.write(`${l}\n`),
  });
  if (values.json) await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  process.exit(report.lost + report.wrong > 0 ? 1 : 0);
}
