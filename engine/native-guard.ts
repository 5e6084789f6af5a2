/**
 * Worker threads inside onnxruntime. Terminating a worker while onnxruntime-node
 * has an asynchronous call in flight (a session being created, run or released)
 * aborts the whole process: the call's completion throws into the dying
 * thread's N-API environment and C++ ends in std::terminate. So the pool stops
 * a worker on purpose (killWorker, the deadline watchdog) only while that
 * worker is outside such calls. One SharedArrayBuffer, one counter per thread
 * id (modulo 1024). A thread that dies inside a call (out of heap) leaves its
 * counter up: a later thread sharing the slot is then only stopped a second late
 * by the watchdog, or passed over by killWorker.
 */
import { threadId } from 'node:worker_threads';

const SLOTS = 1024;
let counters: Int32Array | undefined;

/** Made by the pool and handed to every worker (workerData.nativeGuard). */
export function nativeGuardBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(SLOTS * 4);
}

/** In a worker: count this thread's native calls in `buf`. */
export function useNativeGuard(buf: SharedArrayBuffer | undefined): void {
  counters = buf ? new Int32Array(buf) : undefined;
}

/** Runs `call` (an onnxruntime call) counted as native for this thread. */
export async function inNative<T>(call: () => Promise<T>): Promise<T> {
  const c = counters;
  if (!c) return call();
  const i = threadId % SLOTS;
  Atomics.add(c, i, 1);
  try {
    return await call();
  } finally {
    Atomics.sub(c, i, 1);
  }
}

/** Pool side: whether thread `id` is inside a native call now. */
export function nativeBusy(buf: Int32Array, id: number): boolean {
  // An exited Worker's threadId reads -1.
  return id >= 0 && Atomics.load(buf, id % SLOTS) > 0;
}
