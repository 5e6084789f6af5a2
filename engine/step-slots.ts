/**
 * Which step a request is in, for the errors of a run stopped from outside:
 * the deadline watchdog, a worker that exits or runs out of heap. A worker
 * stopped in the middle of a step never sends its name back, and the on-call
 * engineer must see which step it was ("the request's deadline passed while
 * Slowpoke (Spin) was running (1,204 ms in it)").
 *
 * Pool: one SharedArrayBuffer, one slot per task handed to piscina (at most
 * one per worker, see slot-queue.ts). The executor's onStep hook stores the
 * step's index in the plan (+1; 0: none) and when it started: two stores per
 * step, none per row, no message, no allocation. The main thread reads the
 * slot when the deadline passes or the worker dies, and maps the index to the
 * step of its own copy of the plan. Inline runs keep the same two numbers in
 * a StepMark of their own.
 */
import { AirmailError } from './errors.js';
import type { Plan, PlanStep } from './config/plan.js';
import type { ExecOutput } from './execute.js';

/** The steps of a plan in one order both sides of the worker boundary agree on. */
export function planSteps(plan: Plan): readonly PlanStep[] {
  let all = ordered.get(plan);
  if (!all) {
    all = [...plan.includes, ...plan.excludes, ...plan.pre, ...plan.scorers, ...plan.post];
    ordered.set(plan, all);
    all.forEach((s, i) => indexes.set(s, i));
  }
  return all;
}
const ordered = new WeakMap<Plan, readonly PlanStep[]>();
const indexes = new WeakMap<PlanStep, number>();

/** Where a run is: the step it last entered, and when (epoch ms). */
export interface StepAt {
  readonly step: PlanStep;
  readonly since: number;
}

/** `Slowpoke (Spin)`, or `Spin` when the step is the operator itself. */
export function stepName(s: PlanStep): string {
  return s.label === s.use ? s.label : `${s.label} (${s.use})`;
}

/** `1,204 ms` */
function ms(n: number): string {
  return `${Math.max(0, Math.round(n)).toLocaleString('en-US')} ms`;
}

/** The DEADLINE_EXCEEDED of a run whose deadline passed inside `at.step`; `then` says what happened next. */
export function deadlineInStep(at: StepAt, now: number, then: string): AirmailError {
  return new AirmailError('DEADLINE_EXCEEDED', `the request's deadline passed while ${stepName(at.step)} was running (${ms(now - at.since)} in it); ${then}`, { operator: at.step.label });
}

/** Pool side: the shared slots (made once per pool, handed to every worker). */
export class StepSlots {
  readonly buffer: SharedArrayBuffer;
  private readonly index: Int32Array;
  private readonly since: Float64Array;
  constructor(readonly slots: number) {
    this.buffer = new SharedArrayBuffer(slots * 12);
    this.since = new Float64Array(this.buffer, 0, slots);
    this.index = new Int32Array(this.buffer, slots * 8, slots);
  }
  /** The step the task in `slot` is in, on `plan` (undefined: between steps, or no slot). */
  at(slot: number, plan: Plan): StepAt | undefined {
    if (slot < 0) return undefined;
    const i = Atomics.load(this.index, slot) - 1;
    const step = i >= 0 ? planSteps(plan)[i] : undefined;
    return step && { step, since: this.since[slot]! };
  }
  clear(slot: number): void {
    Atomics.store(this.index, slot, 0);
  }
}

/** Worker side: the onStep hook that writes into slot `slot` of the pool's buffer (one per slot, made once). */
export function slotMarker(buffer: SharedArrayBuffer | undefined, slot: number | undefined): ((s: PlanStep, at: number) => void) | undefined {
  if (!buffer || slot === undefined || slot < 0) return undefined;
  let m = markers.get(slot);
  if (!m) {
    const n = buffer.byteLength / 12;
    const since = new Float64Array(buffer, 0, n);
    const index = new Int32Array(buffer, n * 8, n);
    m = (s, at) => {
      since[slot] = at;
      Atomics.store(index, slot, (indexes.get(s) ?? -1) + 1);
    };
    markers.set(slot, m);
  }
  return m;
}
const markers = new Map<number, (s: PlanStep, at: number) => void>();

/** Inline runs: the same two numbers in an object of the run's own. */
export class StepMark {
  step: PlanStep | undefined;
  since = 0;
  readonly enter = (s: PlanStep, at: number): void => {
    this.step = s;
    this.since = at;
  };
  at(): StepAt | undefined {
    return this.step && { step: this.step, since: this.since };
  }
}

/**
 * An inline run against its deadline: an operator that ignores ctx.signal is not waited for past
 * the deadline + grace (it goes on alone, as nothing can stop it on this thread), and an answer
 * that came later than that (a synchronous loop held the thread) is the same 504; both name the step.
 */
export function inlineDeadline(running: Promise<ExecOutput>, deadline: number, graceMs: number, mark: StepMark): Promise<ExecOutput> {
  const late = (then: string): AirmailError | undefined => {
    const at = mark.at();
    return at && at.since < deadline ? deadlineInStep(at, Date.now(), then) : undefined;
  };
  return new Promise<ExecOutput>((resolve, reject) => {
    const timer = setTimeout(() => {
      const e = late(`it was not waited for past ${graceMs} ms of grace`);
      if (!e) return;
      running.catch(() => undefined);
      reject(e);
    }, Math.max(0, deadline - Date.now() + graceMs));
    running.then((out) => {
      clearTimeout(timer);
      const now = Date.now();
      const e = now > deadline + graceMs ? late(`it ended ${ms(now - deadline)} past the deadline`) : undefined;
      if (e) reject(e);
      else resolve(out);
    }, (err: unknown) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
