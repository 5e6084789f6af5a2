/**
 * Reused model input buffers. A request's model input is a fresh [rows × features] Float32Array
 * (2,200 × 24 floats, 211 KB, for the standard MLP), read by onnxruntime and then dropped. Buffers
 * that large live outside V8's heap, and allocating one per request kept V8's helper threads busy
 * accounting and sweeping them: 0.5-0.6 ms of CPU a request on those threads, on top of the
 * 0.9 ms the rest of the request cost (`npx tsx loadtest/observe-cost.ts --pipeline
 * complimentary_items_mlp --modes off`: 1,553 and 1,667 µs a request before, 937 and 870 after).
 * A buffer is taken for one model call and given back when the call is done; calls in flight at
 * once (inline runs on the main thread) each get their own.
 */
const KEEP = 4;
/** Larger buffers are not kept (a rare huge request should not pin its memory). */
const MAX_KEPT_FLOATS = 4 * 2 ** 20;

export class FloatScratch {
  private readonly free: Float32Array[] = [];

  /** A buffer of `n` floats (contents undefined); give it back with `give` when done with it. */
  take(n: number): Float32Array {
    for (let i = this.free.length - 1; i >= 0; i--) {
      const b = this.free[i]!;
      if (b.length >= n) {
        this.free.splice(i, 1);
        return b.length === n ? b : b.subarray(0, n);
      }
    }
    // Rounded up to a power of two, so a request with a few more candidates reuses it too.
    const whole = new Float32Array(n <= 1024 ? 1024 : 2 ** Math.ceil(Math.log2(n)));
    return whole.length === n ? whole : whole.subarray(0, n);
  }

  /** Returns a buffer `take` gave; nothing may read or write it afterwards. */
  give(x: Float32Array): void {
    if (this.free.length >= KEEP) return;
    const whole = x.byteOffset === 0 && x.byteLength === x.buffer.byteLength ? x : new Float32Array(x.buffer, 0, x.buffer.byteLength / 4);
    if (whole.length <= MAX_KEPT_FLOATS) this.free.push(whole);
  }
}

/** One per thread: model calls of every model of the thread share it. */
export const modelInputs = new FloatScratch();
