import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoreListener } from './score.js';
import { ServingStats } from './stats.js';
import type { ServingService } from './service.js';

/** A stand-in scoring host on loopback: echoes what it received. */
let upstream: Server;
let router: Server;
let routerPort = 0;
const received: { body: string; contentType: string | undefined }[] = [];
let upstreamPort = 0;
/** A ready instance whose scoring is a call to the stand-in host. */
const inst = {
  state: 'ready',
  inflight: 0,
  index: 0,
  score: async (body: Buffer | undefined, contentType: string) => {
    const res = await fetch(`http://127.0.0.1:${upstreamPort}/score`, { method: 'POST', headers: { 'content-type': contentType }, body });
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: Buffer.from(await res.arrayBuffer()) };
  },
};
let pick: unknown = inst;
const stats = new ServingStats();

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

function call(path: string, body: string, headers: Record<string, string | number> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: routerPort, path, method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ body, contentType: req.headers['content-type'] });
      res.writeHead(200, { 'content-type': 'application/json' }).end('[1]');
    });
  });
  upstreamPort = await listen(upstream);
  const serving = {
    routing: (name: string) =>
      name === 'ep1' ? { workspace: 'default', authMode: 'key', keys: ['key-one', 'key-two'], traffic: [['blue', 100]], mirror: undefined, deployments: new Map([['blue', { timeoutMs: 5000 }]]) } : undefined,
    runtime: { pick: () => pick, maxConcurrent: () => 2, kind: () => 'python' },
    stats,
  } as unknown as ServingService;
  router = createServer(scoreListener({ serving, auth: {} as never, authEnabled: false, maxBodyBytes: 1000 }, (_req, res) => res.writeHead(299).end('next')));
  routerPort = await listen(router);
});

afterAll(() => {
  router.close();
  upstream.close();
});

describe('scoreListener', () => {
  it('hands every other request to the next handler', async () => {
    expect((await call('/endpoints/ep1/other', '{}')).status).toBe(299);
    expect((await call('/api/v1/online-endpoints', '{}')).status).toBe(299);
  });

  it('forwards the body to an instance and answers with its reply and the deployment', async () => {
    received.length = 0;
    const res = await call('/endpoints/ep1/score', '{"input_data": [[1]]}', { authorization: 'Bearer key-two' });
    expect(res).toMatchObject({ status: 200, body: '[1]' });
    expect(res.headers['azureml-model-deployment']).toBe('blue');
    expect(res.headers['x-request-id']).toBeTruthy();
    expect(received).toEqual([{ body: '{"input_data": [[1]]}', contentType: 'application/json' }]);
    expect(stats.of('ep1', 'blue').requests).toBeGreaterThan(0);
  });

  it('answers errors in the native shape, with the fix in the message', async () => {
    const unknown = await call('/endpoints/nope/score', '{}', { authorization: 'Bearer key-one', 'x-request-id': 'abc' });
    expect(unknown.status).toBe(404);
    expect(unknown.headers['x-request-id']).toBe('abc');
    expect(JSON.parse(unknown.body)).toEqual({ error: { code: 'NOT_FOUND', message: "No online endpoint 'nope'." } });
    const wrongKey = await call('/endpoints/ep1/score', '{}', { authorization: 'Bearer nope' });
    expect(wrongKey.status).toBe(401);
    expect(JSON.parse(wrongKey.body).error.message).toContain('lapis online-endpoint get-credentials --name ep1');
  });

  it('refuses an oversized body from its declared length without calling an instance', async () => {
    received.length = 0;
    const res = await call('/endpoints/ep1/score', 'x'.repeat(2000), { authorization: 'Bearer key-one' });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(received).toEqual([]);
  });

  it('answers 429 with Retry-After when every instance is busy', async () => {
    pick = 'busy';
    try {
      const res = await call('/endpoints/ep1/score', '{}', { authorization: 'Bearer key-one' });
      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toBe('1');
    } finally {
      pick = inst;
    }
  });
});
