/**
 * The router's side of the scoring host's framed protocol (docs/scoring-host.md, "Frames"): on the
 * host's HTTP port, a connection that opens with FRAMES_MAGIC carries /score requests as
 * length-prefixed frames, one at a time. Per request this skips Node's HTTP client and
 * http.server's header parsing in Python; together they cost more than the rest of the router.
 */
import { connect, type Socket } from 'node:net';
import type { ScoreAnswer } from './instance.js';

export const FRAMES_MAGIC = Buffer.from('\x00LSF', 'latin1');
/** Request: body length (u32), content-type length (u16), content type, body. */
const REQUEST_HEAD = 6;
/** Answer: status (u16), body length (u32), body (always JSON). */
const ANSWER_HEAD = 6;
const ANSWER_TYPE = 'application/json';

interface Pending {
  resolve: (a: ScoreAnswer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** One connection to a host; `onIdle` gets it back after each answer. */
class FrameConnection {
  readonly socket: Socket;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** The answer's whole size once its head is in: chunks are joined once, when all have come. */
  #expected: number | undefined;
  #pending: Pending | undefined;

  constructor(
    port: number,
    readonly onIdle: (c: FrameConnection) => void,
    readonly onClose: (c: FrameConnection) => void,
  ) {
    this.socket = connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.write(FRAMES_MAGIC);
    this.socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    this.socket.on('error', (err) => this.#fail(err));
    this.socket.on('close', () => {
      this.#fail(new Error('the connection closed before the answer'));
      this.onClose(this);
    });
  }

  send(body: Buffer | undefined, head: Buffer, timeoutMs: number): Promise<ScoreAnswer> {
    return new Promise((resolve, reject) => {
      // A late answer cannot be told apart from the next request's: a timed-out connection is closed.
      const timer = setTimeout(() => this.socket.destroy(new Error('timeout')), timeoutMs);
      this.#pending = { resolve, reject, timer };
      // Corked: one writev, without copying the body behind the head.
      this.socket.cork();
      this.socket.write(head);
      if (body?.length) this.socket.write(body);
      this.socket.uncork();
    });
  }

  #receive(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#expected === undefined) {
      if (this.#buffered < ANSWER_HEAD) return;
      const start = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks);
      this.#chunks = [start];
      this.#expected = ANSWER_HEAD + start.readUInt32BE(2);
    }
    if (this.#buffered < this.#expected) return;
    const data = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#buffered);
    const p = this.#pending;
    if (!p || data.length > this.#expected) {
      this.socket.destroy(new Error(p ? 'the scoring host sent more than one answer' : 'the scoring host answered a request it was not sent'));
      return;
    }
    this.#pending = undefined;
    this.#chunks = [];
    this.#buffered = 0;
    this.#expected = undefined;
    clearTimeout(p.timer);
    p.resolve({ status: data.readUInt16BE(0), contentType: ANSWER_TYPE, body: data.subarray(ANSWER_HEAD) });
    this.onIdle(this);
  }

  #fail(err: Error): void {
    const p = this.#pending;
    if (!p) return;
    this.#pending = undefined;
    clearTimeout(p.timer);
    p.reject(err);
  }
}

/** Kept-alive frame connections to one scoring host: as many as it has had requests at once. */
export class FramePool {
  readonly #idle: FrameConnection[] = [];
  readonly #open = new Set<FrameConnection>();
  #closed = false;

  constructor(readonly port: number) {}

  /** Rejects with Error('timeout') past `timeoutMs`, with another Error if the connection failed. */
  score(body: Buffer | undefined, contentType: string, timeoutMs: number): Promise<ScoreAnswer> {
    if (this.#closed) return Promise.reject(new Error('the scoring process stopped'));
    const type = Buffer.from(contentType, 'latin1');
    if (type.length > 0xffff) return Promise.reject(new Error('the Content-Type header is longer than 65,535 bytes'));
    const head = Buffer.allocUnsafe(REQUEST_HEAD + type.length);
    head.writeUInt32BE(body?.length ?? 0, 0);
    head.writeUInt16BE(type.length, 4);
    type.copy(head, REQUEST_HEAD);
    let c = this.#idle.pop();
    // One the host has closed but whose close has not been handled yet could only fail.
    while (c && !c.socket.writable) c = this.#idle.pop();
    if (!c) {
      c = new FrameConnection(
        this.port,
        (idle) => (this.#closed ? idle.socket.destroy() : this.#idle.push(idle)),
        (gone) => {
          this.#open.delete(gone);
          const i = this.#idle.indexOf(gone);
          if (i >= 0) this.#idle.splice(i, 1);
        },
      );
      this.#open.add(c);
    }
    return c.send(body, head, timeoutMs);
  }

  /** Closes every connection; requests in flight fail. */
  close(): void {
    this.#closed = true;
    for (const c of this.#open) c.socket.destroy();
  }
}
