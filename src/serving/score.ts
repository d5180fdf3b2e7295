/**
 * The scoring path, `POST /endpoints/<name>/score`: credentials, the choice of deployment (pin or
 * traffic split), the mirror copy, and the call to an instance. It is served by a plain node:http
 * listener ahead of Fastify (`scoreListener`): every microsecond here is added to each prediction,
 * and the generic route machinery (hooks, logging, content parsing) cost more than the work itself.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AuthService } from '../auth/service.js';
import { LapisError } from '../core/errors.js';
import type { ScoreAnswer } from './instance.js';
import { keyMatches, type ServingService } from './service.js';

export interface ScoreDeps {
  serving: ServingService;
  auth: AuthService;
  authEnabled: boolean;
  maxBodyBytes: number;
  /** Where 5xx answers are reported (the server log). */
  onError?: (err: unknown, endpoint: string) => void;
}

/** An instance's answer, and the deployment that gave it. */
export interface RoutedAnswer extends ScoreAnswer {
  deployment: string;
}

const SCORE_URL = /^\/endpoints\/([^/?#]+)\/score(?:\?.*)?$/;

/**
 * A request listener that answers scoring requests itself and hands everything else to `next`
 * (Fastify). Errors have the native API's shape, `{"error": {"code", "message"}}`.
 */
export function scoreListener(deps: ScoreDeps, next: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const match = req.method === 'POST' ? SCORE_URL.exec(req.url ?? '') : null;
    if (!match) return next(req, res);
    const requestId = headerValue(req.headers['x-request-id']) ?? randomUUID();
    const endpoint = decodeURIComponent(match[1] as string);
    readBody(req, deps.maxBodyBytes)
      .then((body) => score(deps, endpoint, req.headers, body, requestId))
      .then(
        (answer) => {
          res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': answer.body.length, 'azureml-model-deployment': answer.deployment, 'x-request-id': requestId });
          res.end(answer.body);
        },
        (err: unknown) => {
          const lapis = err instanceof LapisError ? err : new LapisError('INTERNAL', `Scoring failed: ${(err as Error).message}`);
          if (lapis.status >= 500) deps.onError?.(err, endpoint);
          const body = Buffer.from(JSON.stringify({ error: lapis.toJSON() }));
          const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length, 'x-request-id': requestId };
          if (lapis.code === 'RESOURCE_EXHAUSTED') headers['retry-after'] = '1';
          // An oversized body is refused before it is read: close rather than drain it.
          if (lapis.code === 'PAYLOAD_TOO_LARGE') headers.connection = 'close';
          res.writeHead(lapis.status, headers);
          res.end(body);
        },
      );
  };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The request body, refused with a 413 as soon as it is known to exceed the limit. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new LapisError('PAYLOAD_TOO_LARGE', `The request body exceeds the server's limit of ${limit} bytes (max_request_bytes): send fewer rows per request.`);
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
      } else chunks.push(c);
    });
    req.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/**
 * One scoring request: the answer of the chosen deployment, or a LapisError that says why not.
 * `requestId` is the correlation id of what the data collector records of it.
 */
export async function score(deps: ScoreDeps, name: string, headers: IncomingHttpHeaders, body: Buffer, requestId: string): Promise<RoutedAnswer> {
  const route = deps.serving.routing(name);
  if (!route) throw new LapisError('NOT_FOUND', `No online endpoint '${name}'.`);
  const header = headers.authorization;
  const credential = typeof header === 'string' && /^bearer /i.test(header) ? header.slice(7).trim() : undefined;
  if (route.authMode === 'key') {
    if (!credential || !keyMatches(route.keys, credential)) {
      throw new LapisError('UNAUTHENTICATED', `Endpoint '${name}' needs one of its keys as "Authorization: Bearer <key>" (lapis online-endpoint get-credentials --name ${name}).`);
    }
  } else if (deps.authEnabled) {
    const principal = await deps.auth.authenticate(header);
    if (!principal) throw new LapisError('UNAUTHENTICATED', `Endpoint '${name}' needs a Lapis token as "Authorization: Bearer <token>".`);
    const decision = await deps.auth.access(principal, 'endpoints/read', route.workspace);
    if (decision !== 'allowed') throw new LapisError('PERMISSION_DENIED', `'${principal.name}' may not call endpoint '${name}'.`);
  }
  const pinned = headerValue(headers['azureml-model-deployment'] as string | undefined);
  let deployment: string | undefined;
  if (pinned) {
    if (!route.deployments.has(pinned)) throw new LapisError('NOT_FOUND', `Endpoint '${name}' has no deployment '${pinned}' (header azureml-model-deployment).`);
    deployment = pinned;
  } else {
    deployment = pickByTraffic(route.traffic);
    if (!deployment) throw new LapisError('UNAVAILABLE', `Endpoint '${name}' sends no traffic anywhere: set it with lapis online-endpoint update --name ${name} --traffic "<deployment>=100".`);
  }
  const contentType = headerValue(headers['content-type']) ?? 'application/json';
  const settings = route.deployments.get(deployment);
  const collect = settings?.collect && deps.serving.collector.sampled(settings.collect) ? settings.collect : undefined;
  const started = performance.now();
  let status = 500;
  let answer: ScoreAnswer | undefined;
  try {
    answer = await send(deps.serving, name, deployment, body, contentType, settings?.timeoutMs ?? 5000);
    status = answer.status;
    // Shadow testing: only unpinned requests are copied; the client never sees the mirror's answer.
    if (!pinned && route.mirror && Math.random() * 100 < route.mirror[1]) void mirror(deps.serving, name, route.mirror[0], body, contentType, route.deployments.get(route.mirror[0])?.timeoutMs ?? 5000);
    // A literal, not a spread: V8 allocates spread copies in the old generation (major GC pauses).
    return { status: answer.status, contentType: answer.contentType, body: answer.body, deployment };
  } catch (err) {
    if (err instanceof LapisError) status = err.status;
    throw err;
  } finally {
    deps.serving.stats.record(name, deployment, status, performance.now() - started, answer?.runs);
    if (collect) {
      deps.serving.collector.record(collect, { workspace: route.workspace, endpoint: name, deployment, correlationId: requestId, request: { body, contentType }, response: answer });
    }
  }
}

/** One request to a ready instance of a deployment: its answer, or a LapisError that says why not. */
async function send(serving: ServingService, endpoint: string, deployment: string, body: Buffer, contentType: string, timeoutMs: number): Promise<ScoreAnswer> {
  const key = `${endpoint}/${deployment}`;
  const inst = serving.runtime.pick(key);
  if (inst === 'none-ready') throw new LapisError('UNAVAILABLE', `Deployment '${deployment}' has no ready instance right now (see lapis online-deployment show --name ${deployment} --endpoint-name ${endpoint}).`);
  if (inst === 'busy') {
    throw new LapisError('RESOURCE_EXHAUSTED', `Deployment '${deployment}' is at its limit of ${serving.runtime.maxConcurrent(key)} concurrent request(s) per instance; retry, or raise request_settings.max_concurrent_requests_per_instance or instance_count.`);
  }
  inst.inflight += 1;
  try {
    return await inst.score(body, contentType, timeoutMs);
  } catch (err) {
    if ((err as Error).message === 'timeout') throw new LapisError('REQUEST_TIMEOUT', `The request took longer than request_timeout_ms (${timeoutMs} ms) on deployment '${deployment}'.`);
    throw new LapisError('BAD_GATEWAY', `Deployment '${deployment}' failed to answer: its scoring ${serving.runtime.kind(key) === 'onnx' ? 'worker thread' : 'process'} ended while handling the request (${(err as Error).message}); it is being restarted.`);
  } finally {
    inst.inflight -= 1;
  }
}

/** A copy of the request to the mirror deployment; its answer and its failures are only counted. */
async function mirror(serving: ServingService, endpoint: string, deployment: string, body: Buffer, contentType: string, timeoutMs: number): Promise<void> {
  const started = performance.now();
  let status = 500;
  let runs: 0 | 1 | undefined;
  try {
    ({ status, runs } = await send(serving, endpoint, deployment, body, contentType, timeoutMs));
  } catch (err) {
    if (err instanceof LapisError) status = err.status;
  } finally {
    serving.stats.record(endpoint, deployment, status, performance.now() - started, runs);
  }
}

/** Weighted random choice among the deployments taking traffic. */
function pickByTraffic(traffic: readonly [string, number][]): string | undefined {
  const total = traffic.reduce((n, [, pct]) => n + pct, 0);
  if (total <= 0) return undefined;
  let r = Math.random() * total;
  for (const [name, pct] of traffic) {
    r -= pct;
    if (r < 0) return name;
  }
  return traffic[traffic.length - 1]?.[0];
}
