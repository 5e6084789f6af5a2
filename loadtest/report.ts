/**
 * Writes a load-test report that is committed beside the code:
 * loadtest/results/latest.json (everything) and latest.md (one table, the
 * machine it ran on, and the exact command that reproduces it); a run of
 * some scenarios only writes partial.{json,md} instead (reportName).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorCounts, LoadResult } from './generator.js';
import type { ScenarioResult } from './runner.js';

export interface VsFloor {
  /** 'rps': throughput as a fraction of the floor's; 'p99': p99 latency as a multiple of the floor's at the same rate. */
  kind: 'rps' | 'p99';
  ratio: number;
}

export interface ReportRow {
  scenario: string;
  result: LoadResult;
  /** The closed-loop run with the best throughput of its scenario's series. */
  peak?: boolean;
  vsFloor?: VsFloor;
}

export interface MachineInfo {
  cpus: number;
  model: string;
  node: string;
  platform: string;
  kernel: string;
  totalMemMb: number;
  /** 1-minute load average before the run: other work on the machine skews the numbers. */
  loadAvg1m: number;
  date: string;
}

export interface Report {
  machine: MachineInfo;
  /** The command that reproduces this report. */
  command: string;
  rows: ReportRow[];
  notes?: string[];
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    model: list[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel: release(),
    totalMemMb: Math.round(totalmem() / 2 ** 20),
    loadAvg1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    date: new Date().toISOString(),
  };
}

/** loadtest/results/ in the source tree, also when running from dist/. */
export function defaultResultsDir(): string {
  return fileURLToPath(new URL('./results/', import.meta.url)).replace(/\/dist\/loadtest\/results\/$/, '/loadtest/results/');
}

const fmt = (n: number | undefined, digits = 1): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits));

function errorsCell(total: number, e: ErrorCounts): string {
  if (total === 0) return '0';
  const parts = (Object.entries(e) as [keyof ErrorCounts, number][]).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  return `${total} (${parts.join(', ')})`;
}

function loadCell(r: LoadResult): string {
  return r.mode === 'closed' ? `c=${r.concurrency ?? '?'}` : `${r.rate ?? '?'}/s`;
}

function vsFloorCell(v: VsFloor | undefined): string {
  if (!v) return '';
  return v.kind === 'rps' ? `${v.ratio.toFixed(2)}× req/s` : `${v.ratio.toFixed(2)}× p99`;
}

export function renderMarkdown(report: Report): string {
  const m = report.machine;
  const head = [
    '# Load test: latest results',
    '',
    `- Date: ${m.date}`,
    `- Machine: ${m.cpus} × ${m.model}, ${m.totalMemMb} MiB, ${m.platform}, kernel ${m.kernel}, Node ${m.node}; 1-min load average ${m.loadAvg1m} before the run`,
    `- Reproduce: \`${report.command}\``,
    '',
    'Latencies in ms. Closed loop: fixed concurrency, latency from send; the peak row is marked.',
    'Open loop: fixed arrival rate, latency from the intended send time (no coordinated omission).',
    '"vs floor": closed = req/s as a fraction of the bare Hono floor\'s peak; open = p99 as a multiple of the floor\'s p99 at the same rate.',
    'Load generator and server share the machine: a client CPU % near 100 means the client may be the limit.',
    '',
  ];
  const cols = ['scenario', 'mode', 'load', 'req/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'errors', 'server CPU %', 'server RSS MB', 'client CPU %', 'vs floor'];
  const lines = [`| ${cols.join(' | ')} |`, `|${cols.map((_, i) => (i < 3 || i === 9 ? '---' : '---:')).join('|')}|`];
  for (const row of report.rows) {
    const r = row.result;
    const l = r.latencyMs;
    lines.push(
      `| ${[
        row.scenario,
        row.peak ? 'closed (peak)' : r.mode,
        loadCell(r),
        fmt(r.rps, 0),
        fmt(l.p50, 2),
        fmt(l.p90, 2),
        fmt(l.p99, 2),
        fmt(l.p999, 2),
        fmt(l.max, 2),
        errorsCell(r.errorCount, r.errors),
        fmt(r.server?.cpuPercent),
        fmt(r.server?.peakRssMb),
        fmt(r.clientCpuPercent),
        vsFloorCell(row.vsFloor),
      ].join(' | ')} |`,
    );
  }
  const notes = report.notes && report.notes.length > 0 ? ['', ...report.notes.map((n) => `- ${n}`)] : [];
  return [...head, ...lines, ...notes, ''].join('\n');
}

/** Writes latest.json and latest.md into `dir` (default loadtest/results/). */
/**
 * The file name (without extension) a run's report goes to: `latest` (the committed report the README
 * quotes) only for a run of every scenario, or when asked by name; a run of some scenarios (`--only`)
 * goes to `partial`, which git ignores, so a quick check never overwrites the committed numbers.
 */
export function reportName(opts: { readonly only?: string | undefined; readonly out?: string | undefined }): string {
  if (opts.out !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(opts.out)) throw new Error(`--out must be a plain file name (letters, digits, '.', '_', '-'), got '${opts.out}'`);
    return opts.out;
  }
  return opts.only ? 'partial' : 'latest';
}

export async function writeReport(report: Report, dir = defaultResultsDir(), name = 'latest'): Promise<{ jsonPath: string; mdPath: string }> {
  await mkdir(dir, { recursive: true });
  const jsonPath = join(dir, `${name}.json`);
  const mdPath = join(dir, `${name}.md`);
  await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(mdPath, renderMarkdown(report));
  return { jsonPath, mdPath };
}

/**
 * Target lines: what the issue asks, what was measured, met or missed by how much; only for the
 * scenarios that ran (a scenario that ran and measured nothing, its setup failing, still says
 * `not measured`), so an `--only` run lists its own targets and not every other one.
 */
export function targetLines(results: readonly ScenarioResult[]): string[] {
  // With --repeat, a scenario's result is its round with the median peak.
  const by = (prefix: string): ScenarioResult | undefined => {
    const runs = results.filter((r) => r.name.startsWith(prefix) && r.peak).sort((a, b) => a.peak!.best.rps - b.peak!.best.rps);
    return runs[(runs.length - 1) >> 1] ?? results.find((r) => r.name.startsWith(prefix));
  };
  const out: string[] = [];
  const peak = (r: ScenarioResult | undefined): number => r?.peak?.best.rps ?? NaN;
  const line = (what: string, got: number, want: number, unit: string, higher = true): string => {
    const met = higher ? got >= want : got <= want;
    const off = higher ? (1 - got / want) * 100 : (got / want - 1) * 100;
    return `target ${what}: ${Number.isFinite(got) ? got.toFixed(unit === 'ms' ? 2 : 0) : 'not measured'} ${unit} (want ${higher ? '≥' : '<'} ${want} ${unit}) — ${!Number.isFinite(got) ? 'not measured' : met ? 'met' : `missed by ${off.toFixed(0)} %`}`;
  };
  const mlp = by('complimentary_items (MLP)');
  const gbdt = by('complimentary_items (GBDT)');
  if (mlp) out.push(line('MLP peak', peak(mlp), 2400, 'req/s'));
  if (gbdt) out.push(line('GBDT peak', peak(gbdt), 1500, 'req/s'));
  for (const name of ['complimentary_items (GBDT)', 'complimentary_items (MLP)']) {
    const open = by(name)?.open;
    if (open) out.push(line(`${name} p99 at ${open.rate} req/s open loop`, open.latencyMs.p99, 20, 'ms', false));
  }
  const floor = peak(by('bare-hono'));
  const trivial = peak(by('trivial'));
  if (Number.isFinite(floor) && Number.isFinite(trivial)) out.push(`target trivial ≥ 60 % of the floor: ${((100 * trivial) / floor).toFixed(0)} % (${trivial.toFixed(0)} vs ${floor.toFixed(0)} req/s) — ${trivial >= 0.6 * floor ? 'met' : 'missed'}`);
  const ratio = (what: string, a: ScenarioResult | undefined, b: ScenarioResult | undefined): void => {
    if (!a?.peak || !b?.peak) return;
    const r = a.peak.best.rps / b.peak.best.rps;
    const errors = a.peak.best.errorCount + b.peak.best.errorCount;
    if (errors > 0) {
      out.push(`target ${what}: NOT measured — ${errors} requests failed`);
      return;
    }
    out.push(`target ${what}: ${(100 * r).toFixed(0)} % (${a.peak.best.rps.toFixed(0)} vs ${b.peak.best.rps.toFixed(0)} req/s) — ${r >= 0.9 ? 'met' : `missed by ${(90 - 100 * r).toFixed(0)} points`}`);
  };
  ratio('warm upstream (in-process cache) within 10 % of all-local', by('upstream inventory, in-process'), by('complimentary_items (GBDT)'));
  ratio('warm upstream (Redis cache) within 10 % of all-local', by('upstream inventory, Redis'), by('complimentary_items (GBDT)'));
  ratio('metrics + tracing on within 10 % of off', by('GBDT, metrics and OTLP'), by('GBDT, metrics and tracing off'));
  return out;
}
