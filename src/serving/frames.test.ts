/**
 * FramePool against a scripted peer on loopback that speaks the host's side of the protocol (the
 * real Python host is tested in python/tests/test_scoring_host.py and behind the router in
 * test/integration/serving.test.ts): answers split into single bytes, kept-alive reuse, timeouts,
 * and a host that dies mid-request.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FRAMES_MAGIC, FramePool } from './frames.js';

type Script = (body: string, reply: (status: number, text: string) => void, socket: Socket) => void;

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

/** A peer that checks the magic, parses request frames and hands each body to `script`; resolves its port and its connection count. */
async function peer(script: Script): Promise<{ port: number; connections: () => number; types: string[] }> {
  let connections = 0;
  const types: string[] = [];
  server = createServer((socket) => {
    connections += 1;
    let data = Buffer.alloc(0);
    let greeted = false;
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (!greeted) {
        if (data.length < FRAMES_MAGIC.length) return;
        expect(data.subarray(0, FRAMES_MAGIC.length)).toEqual(FRAMES_MAGIC);
        data = data.subarray(FRAMES_MAGIC.length);
        greeted = true;
      }
      while (data.length >= 6) {
        const length = data.readUInt32BE(0);
        const typeLength = data.readUInt16BE(4);
        if (data.length < 6 + typeLength + length) return;
        types.push(data.subarray(6, 6 + typeLength).toString('latin1'));
        const body = data.subarray(6 + typeLength, 6 + typeLength + length).toString();
        data = data.subarray(6 + typeLength + length);
        script(
          body,
          (status, text) => {
            const answer = Buffer.from(text);
            const head = Buffer.alloc(6);
            head.writeUInt16BE(status, 0);
            head.writeUInt32BE(answer.length, 2);
            socket.write(Buffer.concat([head, answer]));
          },
          socket,
        );
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', () => r()));
  return { port: (server?.address() as { port: number }).port, connections: () => connections, types };
}

describe('FramePool', () => {
  it('sends the body and content type, reads the answer, and reuses one kept-alive connection', async () => {
    const host = await peer((body, reply) => reply(200, JSON.stringify({ echo: body })));
    const pool = new FramePool(host.port);
    for (const body of ['{"input_data": [[1]]}', '', 'é'.repeat(70_000)]) {
      const answer = await pool.score(Buffer.from(body), 'text/plain; charset=utf-8', 5000);
      expect(answer.status).toBe(200);
      expect(answer.contentType).toBe('application/json');
      expect(JSON.parse(answer.body.toString())).toEqual({ echo: body });
    }
    expect(host.connections()).toBe(1);
    expect(host.types).toEqual(Array(3).fill('text/plain; charset=utf-8'));
    pool.close();
  });

  it('opens a connection per concurrent request and keeps them', async () => {
    const host = await peer((body, reply) => setTimeout(() => reply(200, body), 20));
    const pool = new FramePool(host.port);
    const bodies = ['1', '2', '3', '4'];
    const answers = await Promise.all(bodies.map((b) => pool.score(Buffer.from(b), 'application/json', 5000)));
    expect(answers.map((a) => a.body.toString())).toEqual(bodies);
    await Promise.all(bodies.map((b) => pool.score(Buffer.from(b), 'application/json', 5000)));
    expect(host.connections()).toBe(4);
    pool.close();
  });

  it('reads a multi-megabyte answer that arrives in many chunks', async () => {
    const big = 'x'.repeat(8 << 20);
    const host = await peer((_body, reply) => reply(200, big));
    const pool = new FramePool(host.port);
    const answer = await pool.score(Buffer.from('{}'), 'application/json', 10_000);
    expect(answer.body.length).toBe(big.length);
    expect(answer.body.toString() === big).toBe(true);
    pool.close();
  });

  it('refuses a content type too long for a frame before connecting', async () => {
    const host = await peer((body, reply) => reply(200, body));
    const pool = new FramePool(host.port);
    await expect(pool.score(Buffer.from('{}'), 'x'.repeat(70_000), 5000)).rejects.toThrow('longer than 65,535 bytes');
    expect(host.connections()).toBe(0);
    pool.close();
  });

  it('reads an answer that arrives a byte at a time', async () => {
    const host = await peer((_body, _reply, socket) => {
      const answer = Buffer.from([0x01, 0x90, 0, 0, 0, 4, ...Buffer.from('[42]')]); // status 400
      answer.forEach((byte, i) => setTimeout(() => socket.write(Buffer.from([byte])), i * 2));
    });
    const pool = new FramePool(host.port);
    const answer = await pool.score(Buffer.from('{}'), 'application/json', 5000);
    expect([answer.status, answer.body.toString()]).toEqual([400, '[42]']);
    pool.close();
  });

  it('times out with Error("timeout") and never hands a late answer to the next request', async () => {
    let n = 0;
    const host = await peer((body, reply) => (n++ === 0 ? setTimeout(() => reply(200, 'late'), 300) : reply(200, body)));
    const pool = new FramePool(host.port);
    await expect(pool.score(Buffer.from('first'), 'application/json', 50)).rejects.toThrow(/^timeout$/);
    await new Promise((r) => setTimeout(r, 400));
    expect((await pool.score(Buffer.from('second'), 'application/json', 5000)).body.toString()).toBe('second');
    expect(host.connections()).toBe(2); // the timed-out connection was closed, not reused
    pool.close();
  });

  it('fails the request in flight when the host closes the connection, then connects afresh', async () => {
    let n = 0;
    const host = await peer((body, reply, socket) => (n++ === 0 ? socket.destroy() : reply(200, body)));
    const pool = new FramePool(host.port);
    await expect(pool.score(Buffer.from('dies'), 'application/json', 5000)).rejects.toThrow('the connection closed before the answer');
    expect((await pool.score(Buffer.from('next'), 'application/json', 5000)).body.toString()).toBe('next');
    pool.close();
  });

  it('fails at once when nothing listens, and after close()', async () => {
    const host = await peer(() => {});
    const pool = new FramePool(host.port);
    await new Promise<void>((r) => server?.close(() => r()));
    server = undefined;
    await expect(pool.score(Buffer.from('{}'), 'application/json', 5000)).rejects.toThrow(/ECONNREFUSED/);
    pool.close();
    await expect(pool.score(Buffer.from('{}'), 'application/json', 5000)).rejects.toThrow('the scoring process stopped');
  });
});
