import { Option, type Command } from 'commander';
import type { NewToken, TokenInfo } from '../client/index.js';
import { removeCredential, storedCredential, tokenIdOf } from './credentials.js';
import { contextOf, expiresArg, expiresValue, withGlobalOptions } from './context.js';
import { formatTime, note, print, table, truncate } from './output.js';

/** `lapis token create | list | revoke`. */
export function tokenCommand(program: Command): void {
  const token = program.command('token').description('Manage API tokens: for scripts, CI and MLflow clients (LAPIS_TOKEN, MLFLOW_TRACKING_TOKEN)');

  withGlobalOptions(
    token
      .command('create')
      .description('Create an API token; it is printed once and cannot be shown again')
      .option('--name <name>', 'a label to recognize it by, e.g. laptop or github-ci')
      .addOption(new Option('--expires <duration>', "lifetime, e.g. 30d, 12h, 90m, or 'never'").default('30d').argParser(expiresArg))
      .option('--for <principal>', 'create it for another user or service principal (server admins only)'),
  ).action(async (opts: { name?: string; expires: string; for?: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const expires = expiresValue(opts.expires);
    const t = await ctx.client.tokens.create({
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      ...(expires !== undefined ? { expires } : {}),
      ...(opts.for !== undefined ? { principal: opts.for } : {}),
    });
    print(ctx.output, t, () => newTokenView(t));
  });

  withGlobalOptions(
    token
      .command('list')
      .description('List your tokens (never their secrets)')
      .option('--all', "every principal's tokens (server admins only)"),
  ).action(async (opts: { all?: boolean }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const { tokens } = await ctx.client.tokens.list({ all: opts.all === true });
    const current = currentTokenId(ctx.client.url, ctx.tokenSource);
    print(ctx.output, tokens, () =>
      tokens.length === 0
        ? 'No tokens.'
        : table(
            ['ID', 'NAME', 'PRINCIPAL', 'CREATED', 'EXPIRES', 'LAST USED', 'STATUS'],
            tokens.map((t) => [
              t.id,
              truncate(t.name, 40),
              t.principal,
              formatTime(t.created_at),
              t.expires_at === null ? 'never' : formatTime(t.expires_at),
              formatTime(t.last_used_at),
              `${tokenStatus(t)}${t.id === current ? ' (this one)' : ''}`,
            ]),
          ),
    );
  });

  withGlobalOptions(token.command('revoke').description('Revoke a token: it stops working at once').argument('<id>', "token id, e.g. tokAb12Cd34Ef56 (see 'lapis token list')")).action(
    async (ref: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      // A whole token works too: only its id is sent.
      const id = tokenIdOf(ref) ?? ref.trim();
      await ctx.client.tokens.revoke(id);
      print(ctx.output, { id, revoked: true }, () => `Revoked token ${id}: it no longer authenticates.`);
      const stored = storedCredential(ctx.client.url);
      if (stored && stored.token_id === id) {
        removeCredential(ctx.client.url);
        note(`It was the token 'lapis login' stored for ${ctx.client.url}; that login is forgotten. Run 'lapis login' again.`);
      }
    },
  );
}

export function newTokenView(t: NewToken): string {
  return [
    `Created token ${t.id}${t.name ? ` '${t.name}'` : ''} for ${t.principal}, ${t.expires_at === null ? 'never expiring' : `expiring ${formatTime(t.expires_at)}`}.`,
    'It is shown once — copy it now; it cannot be retrieved later:',
    '',
    `  ${t.token}`,
    '',
    `Use it as LAPIS_TOKEN (or MLFLOW_TRACKING_TOKEN), or store it with 'lapis login --token -'. Revoke it with 'lapis token revoke ${t.id}'.`,
  ].join('\n');
}

function tokenStatus(t: TokenInfo): string {
  if (t.revoked_at !== null) return 'revoked';
  if (t.expires_at !== null && t.expires_at <= Date.now()) return 'expired';
  return 'active';
}

function currentTokenId(url: string, source: string): string | undefined {
  if (source === 'env') return tokenIdOf(process.env.LAPIS_TOKEN ?? '');
  if (source === 'stored') return storedCredential(url)?.token_id;
  return undefined;
}
