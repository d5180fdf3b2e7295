import { InvalidArgumentError, Option, type Command } from 'commander';
import { LapisClient, type ViewType } from '../client/index.js';
import { serverKey, storedCredential } from './credentials.js';
import { note, OUTPUT_FORMATS, type OutputFormat } from './output.js';

export const DEFAULT_SERVER_URL = 'http://127.0.0.1:5050';
export const DEFAULT_WORKSPACE = 'default';

/** Where the token of a command came from. */
export type TokenSource = 'env' | 'stored' | 'none';

export interface CommandContext {
  client: LapisClient;
  output: OutputFormat;
  workspace: string;
  tokenSource: TokenSource;
}

/** The token source of the last context made, so an authentication error can say where to look. */
export let lastTokenSource: { source: TokenSource; server: string } | undefined;

interface GlobalOptions {
  server: string;
  workspace: string;
  output: OutputFormat;
}

/**
 * Every client command takes the same three options, each with its environment variable:
 * `--server` (LAPIS_URL), `-w/--workspace` (LAPIS_WORKSPACE), `-o/--output`. The token comes from
 * LAPIS_TOKEN, else from the credentials `lapis login` stored for the server — never from a flag,
 * so it never shows in shell history or `ps`.
 */
export function withGlobalOptions(cmd: Command): Command {
  const group = 'Global Options:';
  return cmd
    .addOption(new Option('--server <url>', 'Lapis server URL').env('LAPIS_URL').default(DEFAULT_SERVER_URL).argParser(serverUrl).helpGroup(group))
    .addOption(new Option('-w, --workspace <name>', 'workspace to work in').env('LAPIS_WORKSPACE').default(DEFAULT_WORKSPACE).argParser(nonEmpty).helpGroup(group))
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table').helpGroup(group));
}

/** The command's client and options; `anonymous` leaves the token out (for `lapis login`). */
export function contextOf(cmd: Command, opts: { anonymous?: boolean } = {}): CommandContext {
  const o = cmd.opts<GlobalOptions>();
  const env = opts.anonymous ? undefined : process.env.LAPIS_TOKEN;
  const token = env ? env : opts.anonymous ? undefined : storedToken(o.server);
  const tokenSource: TokenSource = env ? 'env' : token ? 'stored' : 'none';
  lastTokenSource = { source: tokenSource, server: serverKey(o.server) };
  const client = new LapisClient({ url: o.server, workspace: o.workspace, ...(token ? { token } : {}) });
  return { client, output: o.output, workspace: o.workspace, tokenSource };
}

/** The token `lapis login` stored; an unreadable credentials file is reported, and the command goes on without it. */
function storedToken(server: string): string | undefined {
  try {
    return storedCredential(server)?.token;
  } catch (err) {
    note(`warning: ignoring stored credentials: ${(err as Error).message}`);
    return undefined;
  }
}

function serverUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return value;
  } catch {
    // reported below
  }
  throw new InvalidArgumentError('Use an http(s) URL such as http://127.0.0.1:5050.');
}

function nonEmpty(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('Pass a non-empty value.');
  return value;
}

/** `--max-results`: a positive integer. */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('Use a whole number of at least 1, e.g. 100.');
  }
  return Number(value);
}

/** A repeatable option: `--order-by a --order-by b`. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export const VIEWS = ['active', 'deleted', 'all'] as const;
const VIEW_TYPES: Record<(typeof VIEWS)[number], ViewType> = { active: 'ACTIVE_ONLY', deleted: 'DELETED_ONLY', all: 'ALL' };

export function viewOption(): Option {
  return new Option('--view <view>', 'lifecycle stage to list').choices(VIEWS).default('active');
}

export const viewType = (view: string | undefined): ViewType => VIEW_TYPES[(view ?? 'active') as (typeof VIEWS)[number]] ?? 'ACTIVE_ONLY';

/** One page, or (with `all`) every page from `pageToken` on; `next` is the token of the page after. */
export async function fetchPages<T>(
  fetchPage: (pageToken: string | undefined) => Promise<{ items: T[]; next: string | null }>,
  all: boolean,
  pageToken: string | undefined,
): Promise<{ items: T[]; next: string | null }> {
  const items: T[] = [];
  let token = pageToken;
  for (;;) {
    const page = await fetchPage(token);
    items.push(...page.items);
    if (!all || !page.next) return { items, next: page.next };
    token = page.next;
  }
}

/** `--since`: `30d`, `12h`, `90m` (a bare number is days), as the server reads it. */
export function durationArg(value: string): string {
  const text = value.trim();
  if (!/^\d{1,6}\s*[dhm]?$/.test(text) || /^0+\s*[dhm]?$/.test(text)) throw new InvalidArgumentError('Use a duration such as 30d, 12h or 90m.');
  return text;
}

/** `--expires`: a duration, or `never`. */
export function expiresArg(value: string): string {
  if (value.trim().toLowerCase() === 'never') return 'never';
  try {
    return durationArg(value);
  } catch {
    throw new InvalidArgumentError("Use a lifetime such as 30d, 12h or 90m, or 'never'.");
  }
}

/** The `expires` to send: none for `never`. */
export const expiresValue = (value: string | undefined): string | undefined => (value === undefined || value === 'never' ? undefined : value);
