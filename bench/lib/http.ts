import http from 'node:http';

/**
 * A minimal HTTP/1.1 client over one keep-alive agent, for benchmarks: bodies are sent as
 * pre-serialised buffers so the load generator spends its CPU on the wire, not on JSON.
 */
export interface HttpResult {
  status: number;
  body: Buffer;
  /** Wall-clock milliseconds from sending the request to the last byte of the response. */
  ms: number;
}

export class HttpClient {
  readonly url: URL;
  readonly #agent: http.Agent;

  constructor(baseUrl: string, maxSockets = 16) {
    this.url = new URL(baseUrl);
    if (this.url.hostname !== '127.0.0.1' && this.url.hostname !== 'localhost') throw new Error(`Benchmarks only talk to loopback, not ${this.url.hostname}.`);
    this.#agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request(method: 'GET' | 'POST', path: string, body?: Buffer | string, timeoutMs = 300_000, headers: Readonly<Record<string, string>> = {}): Promise<HttpResult> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = http.request(
        {
          agent: this.#agent,
          host: this.url.hostname,
          port: this.url.port,
          method,
          path,
          headers: payload ? { 'content-type': 'application/json', ...headers, 'content-length': payload.length } : { ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - started }));
          res.on('error', reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A JSON call that must succeed: any non-2xx status is an error carrying the server's message. */
  async json<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body === undefined ? undefined : JSON.stringify(body));
    const text = res.body.toString('utf8');
    if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${path} -> HTTP ${res.status}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Resolves once `url` answers 2xx, polling every 250 ms; bounded by `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs: number, isAlive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const client = new HttpClient(url, 1);
  try {
    while (Date.now() < deadline) {
      if (!isAlive()) throw new Error(`process exited before ${url} answered`);
      try {
        const res = await client.request('GET', new URL(url).pathname, undefined, 2_000);
        if (res.status >= 200 && res.status < 300) return;
      } catch {
        // not listening yet
      }
      await sleep(250);
    }
    throw new Error(`${url} did not answer within ${timeoutMs} ms`);
  } finally {
    client.close();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
