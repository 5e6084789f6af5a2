/**
 * CPU time by thread of a process, from /proc (Linux), and what a measured stretch of requests cost
 * each thread: the main thread (the process's own id), the busiest `workers` threads, the rest.
 */
import { readFileSync, readdirSync } from 'node:fs';

const TICKS = 100; // USER_HZ

/** CPU seconds of each thread of `pid`, by thread id. */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, (Number(f[11]) + Number(f[12])) / TICKS);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

export interface ThreadCost {
  /** µs of CPU per request on the main thread, the busiest `workers` threads together, and the rest. */
  readonly main: number;
  readonly worker: number;
  readonly rest: number;
  readonly rps: number;
}

/** Runs `run` (which answers `n` requests) and divides each thread's CPU over those requests. */
export async function cpuPerRequest(pid: number, n: number, run: () => Promise<void>, workers = 1): Promise<ThreadCost> {
  const a = threadCpu(pid);
  const t0 = performance.now();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  const b = threadCpu(pid);
  const used = [...b].map(([tid, s]) => [tid, s - (a.get(tid) ?? 0)] as const);
  const main = used.find(([tid]) => tid === String(pid))?.[1] ?? 0;
  const others = used.filter(([tid]) => tid !== String(pid)).map(([, s]) => s).sort((x, y) => y - x);
  const us = (s: number): number => (s * 1e6) / n;
  const sum = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0);
  return { main: us(main), worker: us(sum(others.slice(0, workers))), rest: us(sum(others.slice(workers))), rps: n / seconds };
}
