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
