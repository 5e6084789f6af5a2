/**
 * Samples a server process's CPU and memory from /proc while a load run is
 * measured. CPU % is Δ(utime+stime) over wall time (100 % = one core; threads,
 * e.g. piscina workers, are included because they share the pid). Linux only:
 * elsewhere, or when the process has gone, samples are simply missing.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ProcSample {
  /** Cumulative user+system CPU time, in seconds. */
  cpuSeconds: number;
  /** Resident set size, in MiB. */
  rssMb: number;
}

export interface ProcUsage {
  pid: number;
  /** Average CPU % over the sampled window (100 = one full core). */
  cpuPercent: number;
  /** Highest CPU % seen in one sampling interval. */
  peakCpuPercent: number;
  /** Highest resident set size seen, MiB. */
  peakRssMb: number;
  samples: number;
  durationS: number;
}

export interface ProcSampler {
  stop(): ProcUsage | undefined;
}

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** One reading of /proc/<pid>/stat and /proc/<pid>/status, or undefined if unreadable. */
export function readProcSample(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may hold spaces and parentheses: fields after the last ')' start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]); // field 14
    const stime = Number(fields[12]); // field 15
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return { cpuSeconds: (utime + stime) / ticksPerSecond(), rssMb: rss ? Number(rss[1]) / 1024 : 0 };
  } catch {
    return undefined;
  }
}

/** Starts sampling `pid` every `intervalMs` (default 250); `stop()` returns the summary. */
export function startProcSampler(pid: number, intervalMs = 250): ProcSampler {
  const first = readProcSample(pid);
  const t0 = performance.now();
  let last = first;
  let lastT = t0;
  let peakRss = first?.rssMb ?? 0;
  let peakCpu = 0;
  let samples = first ? 1 : 0;
  const take = (): void => {
    const s = readProcSample(pid);
    const t = performance.now();
    if (!s) return;
    samples++;
    peakRss = Math.max(peakRss, s.rssMb);
    if (last && t > lastT) peakCpu = Math.max(peakCpu, ((s.cpuSeconds - last.cpuSeconds) / ((t - lastT) / 1000)) * 100);
    last = s;
    lastT = t;
  };
  const timer = setInterval(take, intervalMs);
  timer.unref();
  let stopped = false;
  return {
    stop(): ProcUsage | undefined {
      if (!stopped) {
        stopped = true;
        clearInterval(timer);
        take();
      }
      if (!first || !last || lastT <= t0) return undefined;
      const durationS = (lastT - t0) / 1000;
      return {
        pid,
        cpuPercent: ((last.cpuSeconds - first.cpuSeconds) / durationS) * 100,
        peakCpuPercent: peakCpu,
        peakRssMb: peakRss,
        samples,
        durationS,
      };
    },
  };
}

/** This process's own CPU % between `start()` and `stop()`: tells whether the load generator was the bottleneck. */
export function startSelfCpu(): { stop(): number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return {
    stop(): number {
      const c = process.cpuUsage(c0);
      const wallUs = (performance.now() - t0) * 1000;
      return wallUs > 0 ? ((c.user + c.system) / wallUs) * 100 : 0;
    },
  };
}
