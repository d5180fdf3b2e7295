import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm run build` puts the studio (vite's output), beside the compiled server. */
export const STUDIO_DIR = fileURLToPath(new URL('../ui/', import.meta.url));

/**
 * Paths the studio never answers: the APIs, scoring, metrics and health keep their own 404s even
 * for URLs no route matches, so a typo in an API call never gets a web page back.
 */
const RESERVED = /^\/(api|ajax-api|endpoints|metrics|health|version|workspaces)(\/|$)/;

const MLFLOW_LINK = /^\/workspaces\/[^/]+\/?$/;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/**
 * Serves the studio from the not-found handler, i.e. only for URLs that no route claims: files
 * of the build as they are (hashed names under /assets cache for a year), and for every other
 * GET that asks for HTML, index.html, whose router shows the page (deep links keep working).
 * It reads no data, so it needs no permission; the studio's API calls are checked as any others.
 */
export function studioHandler(dir = STUDIO_DIR): (req: FastifyRequest, reply: FastifyReply) => Promise<boolean> {
  let index: Promise<{ html: string; csp: string } | undefined> | undefined;
  const indexHtml = () =>
    (index ??= readFile(join(dir, 'index.html'), 'utf8').then(
      (html) => ({ html, csp: contentSecurityPolicy(html) }),
      () => undefined,
    ));
  return async (req, reply) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    // The original URL: a /workspaces/<name> prefix was already stripped from req.url for routing.
    let path: string;
    try {
      path = decodeURIComponent(req.originalUrl.split('?')[0] ?? '/');
    } catch {
      return false;
    }
    // `/workspaces/<name>/` alone is where MLflow's "View run at …/#/experiments/…" links point.
    if (RESERVED.test(path) && !MLFLOW_LINK.test(path)) return false;
    const file = normalize(join(dir, path));
    // A file of the build, if there is one; otherwise (a page URL, even one with a dot in an asset
    // name) the page itself, for a browser.
    const info = file.startsWith(dir) && path !== '/' ? await stat(file).catch(() => undefined) : undefined;
    if (info?.isFile()) {
      reply
        .type(TYPES[extname(file)] ?? 'application/octet-stream')
        .header('Content-Length', String(info.size))
        .header('Cache-Control', path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      await reply.send(req.method === 'HEAD' ? '' : createReadStream(file));
      return true;
    }
    if (!String(req.headers.accept ?? '').includes('text/html')) return false;
    const page = await indexHtml();
    if (page === undefined) {
      await reply.status(404).type('text/plain; charset=utf-8').send(`The studio is not built into this installation (no ${dir.split(sep).slice(-3).join('/')}index.html): run npm run build.`);
      return true;
    }
    await reply
      .type('text/html; charset=utf-8')
      .header('Cache-Control', 'no-cache')
      .header('Content-Security-Policy', page.csp)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Referrer-Policy', 'same-origin')
      .send(page.html);
    return true;
  };
}

/**
 * The studio keeps its API token in the browser, so scripts are limited to its own files and the
 * inline theme script of index.html (allowed by its hash); artifacts preview as blob: images;
 * nothing may frame it.
 */
function contentSecurityPolicy(html: string): string {
  const inline = [...html.matchAll(/<script(?![^>]*\ssrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1] ?? '').digest('base64')}'`);
  return [
    "default-src 'self'",
    `script-src 'self' ${inline.join(' ')}`.trim(),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}
