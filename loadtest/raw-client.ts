/**
 * A lean HTTP/1.1 client on plain sockets, for load runs where the generator shares the CPU
 * with the server it measures (the 2-core box): per request it writes one prebuilt string and
 * scans the answer for its status line, Content-Length or chunked framing, with none of
 * undici's dispatcher, header objects or body streams. At 2,700 req/s undici took about 40 %
 * of a core here; the overload run needs that CPU for the server.
 *
 * One request in flight per connection (no pipelining), keep-alive, at most `connections`
 * sockets; a request finding none free waits for one (that wait counts as latency).
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly body: Buffer;
}

/** Errors carry a `code` like undici's: 'RAW_TIMEOUT' for a timeout, the socket's code otherwise. */
export class RawClientError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

interface Pending {
  readonly resolve: (r: RawResponse) => void;
  readonly reject: (e: RawClientError) => void;
  readonly sentAt: number;
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** Length of a complete response at the start of `buf` (header + body), or -1 when more is needed. */
export function responseLength(buf: Buffer): { length: number; headerEnd: number; chunked: boolean; close: boolean } | undefined {
  const headerEnd = buf.indexOf(CRLF2);
  if (headerEnd < 0) return undefined;
  const head = buf.toString('latin1', 0, headerEnd).toLowerCase();
  const close = /\r\nconnection:\s*close/.test(head);
  const cl = /\r\ncontent-length:\s*(\d+)/.exec(head);
  if (cl) {
    const length = headerEnd + 4 + Number(cl[1]);
    return buf.length >= length ? { length, headerEnd, chunked: false, close } : undefined;
  }
  if (!/\r\ntransfer-encoding:\s*chunked/.test(head)) return { length: headerEnd + 4, headerEnd, chunked: false, close };
  // Walk the chunks: size line, data, CRLF; a zero-size chunk and the final CRLF end it.
  let at = headerEnd + 4;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(buf.toString('latin1', at, eol), 16);
    if (Number.isNaN(size)) throw new RawClientError('bad chunk size', 'RAW_PARSE');
    if (size === 0) {
      const end = buf.indexOf(CRLF2, eol);
      return end < 0 ? undefined : { length: end + 4, headerEnd, chunked: true, close };
    }
    at = eol + 2 + size + 2;
    if (at > buf.length) return undefined;
  }
}

function dechunk(buf: Buffer, from: number, to: number): Buffer {
  const parts: Buffer[] = [];
  let at = from;
  while (at < to) {
    const eol = buf.indexOf('\r\n', at);
    const size = parseInt(buf.toString('latin1', at, eol), 16);
    if (size === 0) break;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

class Conn {
  pending: Pending | undefined;
  private buf: Buffer | undefined;
  dead = false;

  constructor(readonly socket: Socket, private readonly onFree: (c: Conn) => void, private readonly onDead: (c: Conn) => void) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.data(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(err.code ?? 'RAW_SOCKET', err.message));
    socket.on('close', () => this.fail('RAW_CLOSED', 'connection closed'));
  }

  send(text: string, p: Pending): void {
    this.pending = p;
    this.socket.write(text, 'utf8');
  }

  private data(chunk: Buffer): void {
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    let framed: ReturnType<typeof responseLength>;
    try {
      framed = responseLength(this.buf);
    } catch (err) {
      this.fail('RAW_PARSE', (err as Error).message);
      return;
    }
    if (!framed) return;
    const buf = this.buf;
    this.buf = framed.length < buf.length ? buf.subarray(framed.length) : undefined;
    const status = Number(buf.toString('latin1', 9, 12));
    if (status >= 100 && status < 200) return this.data(Buffer.alloc(0)); // informational: the real answer follows
    const body = framed.chunked ? dechunk(buf, framed.headerEnd + 4, framed.length) : buf.subarray(framed.headerEnd + 4, framed.length);
    const p = this.pending;
    this.pending = undefined;
    if (framed.close) this.kill();
    else this.onFree(this);
    p?.resolve({ status, body });
  }

  fail(code: string, message: string): void {
    const p = this.pending;
    this.pending = undefined;
    this.kill();
    p?.reject(new RawClientError(message, code));
  }

  kill(): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    this.onDead(this);
  }
}

export class RawClient {
  private readonly host: string;
  private readonly port: number;
  private readonly idle: Conn[] = [];
  private readonly busy = new Set<Conn>();
  private readonly waiting: Array<() => void> = [];
  private opening = 0;
  private readonly sweep: NodeJS.Timeout;
  private closed = false;

  constructor(origin: string, private readonly opts: { connections: number; timeoutMs: number }) {
    const u = new URL(origin);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
    // One timer for all requests: anything outstanding past the timeout loses its connection.
    this.sweep = setInterval(() => {
      const now = performance.now();
      for (const c of this.busy) if (c.pending && now - c.pending.sentAt > opts.timeoutMs) c.fail('RAW_TIMEOUT', `no answer in ${opts.timeoutMs} ms`);
    }, Math.min(250, opts.timeoutMs));
    this.sweep.unref();
  }

  /** One exchange; a body is sent as UTF-8 text. */
  request(method: string, path: string, headers: Readonly<Record<string, string>>, body?: string): Promise<RawResponse> {
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\n`;
    for (const k in headers) head += `${k}: ${headers[k]}\r\n`;
    const text = body === undefined ? `${head}\r\n` : `${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    return new Promise<RawResponse>((resolve, reject) => {
      const go = (): void => {
        if (this.closed) return reject(new RawClientError('client closed', 'RAW_CLOSED'));
        const c = this.idle.pop();
        if (c) {
          this.busy.add(c);
          c.send(text, { resolve, reject, sentAt: performance.now() });
        } else if (this.busy.size + this.idle.length + this.opening < this.opts.connections) {
          this.open().then(() => go(), (err: NodeJS.ErrnoException) => {
            reject(new RawClientError(err.message, err.code ?? 'RAW_CONNECT'));
            this.waiting.shift()?.(); // the slot is free again: the next waiter tries its own connection
          });
        } else {
          this.waiting.push(go);
        }
      };
      go();
    });
  }

  private open(): Promise<void> {
    this.opening++;
    return new Promise<void>((resolve, reject) => {
      const socket = connect(this.port, this.host);
      socket.once('connect', () => {
        this.opening--;
        socket.removeListener('error', reject);
        this.idle.push(new Conn(socket, (c) => this.free(c), (c) => this.dead(c)));
        resolve();
      });
      socket.once('error', (err) => {
        this.opening--;
        reject(err);
      });
    });
  }

  private free(c: Conn): void {
    this.busy.delete(c);
    this.idle.push(c);
    this.waiting.shift()?.();
  }

  private dead(c: Conn): void {
    this.busy.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
    this.waiting.shift()?.(); // a slot opened: the next waiter may connect
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweep);
    for (const go of this.waiting.splice(0)) go();
    for (const c of [...this.idle, ...this.busy]) c.kill();
  }
}
