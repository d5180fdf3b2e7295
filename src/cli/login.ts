import { Option, type Command } from 'commander';
import { LapisError, type LapisClient, type WhoAmI } from '../client/index.js';
import { credentialsPath, removeCredential, serverKey, storeCredential, storedCredential, tokenIdOf } from './credentials.js';
import { contextOf, durationArg, withGlobalOptions, type TokenSource } from './context.js';
import { fields, formatTime, note, print } from './output.js';
import { interactive, promptLine, promptSecret, readSecretFromStdin } from './prompt.js';

interface LoginOptions {
  username?: string;
  passwordStdin?: boolean;
  token?: string;
  expires: string;
}

const AUTH_OFF = (url: string): string => `Authentication is off on ${url}: every local caller is the admin, so there is nothing to log in to.`;

/** `lapis login | logout | whoami`. */
export function loginCommands(program: Command): void {
  withGlobalOptions(
    program
      .command('login')
      .description('Log in to a server and store the token for it (in ~/.lapis/credentials.json, or $LAPIS_CONFIG_DIR)')
      .option('--username <name>', 'user name (asked for on a terminal when absent)')
      .option('--password-stdin', 'read the password from stdin, e.g. printf %s "$PW" | lapis login --username ana --password-stdin')
      .option('--token <token>', "store an existing API token instead of logging in with a password ('-' reads it from stdin)")
      .addOption(new Option('--expires <duration>', 'lifetime of the token a password login creates, e.g. 30d, 12h').default('30d').argParser(durationArg)),
  ).action(async (opts: LoginOptions, cmd: Command) => {
    const ctx = contextOf(cmd, { anonymous: true });
    const anonymous = ctx.client;
    if (opts.token !== undefined && (opts.username !== undefined || opts.passwordStdin)) {
      throw new LapisError('INVALID_ARGUMENT', 'Use either --token, or --username with a password, not both.');
    }

    let token: string;
    let tokenId: string;
    let expiresAt: number | null;
    let source: 'password' | 'token';
    let who: WhoAmI;
    if (opts.token !== undefined) {
      token = (opts.token === '-' ? await readSecretFromStdin('token') : opts.token).trim();
      if (token === '') throw new LapisError('INVALID_ARGUMENT', 'Empty --token: pass an API token (lapis_<id>_<secret>).');
      const client = anonymous.withToken(token);
      who = await client.auth.whoami();
      if (!who.auth_enabled) return authOff(ctx.output, anonymous.url);
      tokenId = tokenIdOf(token) ?? '';
      // Best effort: the token's expiry, from the caller's own token list.
      expiresAt = (await client.tokens.list().catch(() => ({ tokens: [] }))).tokens.find((t) => t.id === tokenId)?.expires_at ?? null;
      source = 'token';
    } else {
      const username = opts.username ?? (interactive() ? (await promptLine('Username: ')).trim() : undefined);
      if (!username) {
        throw new LapisError('INVALID_ARGUMENT', 'No user name: pass --username <name> (or run on a terminal to be asked).');
      }
      let password: string;
      if (opts.passwordStdin) password = await readSecretFromStdin('password');
      else if (interactive()) password = await promptSecret(`Password for ${username}: `);
      else {
        throw new LapisError(
          'INVALID_ARGUMENT',
          'No password: stdin is not a terminal, so pipe the password with --password-stdin (passwords are never taken from the command line), or use --token.',
        );
      }
      let created;
      try {
        created = await anonymous.auth.login(username, password, { expires: opts.expires });
      } catch (err) {
        // A server without authentication has no users to log in as: say so instead of "wrong password".
        if (err instanceof LapisError && err.code === 'UNAUTHENTICATED') {
          const open = await anonymous.auth.whoami().catch(() => undefined);
          if (open && !open.auth_enabled) return authOff(ctx.output, anonymous.url);
        }
        throw err;
      }
      token = created.token;
      tokenId = created.id;
      expiresAt = created.expires_at;
      source = 'password';
      who = await anonymous.withToken(token).auth.whoami();
    }

    const path = storeCredential(anonymous.url, { token, token_id: tokenId, principal: who.name, source, expires_at: expiresAt, stored_at: Date.now() });
    const result = { server: anonymous.url, ...who, token_id: tokenId, expires_at: expiresAt, credentials: path };
    print(ctx.output, result, () =>
      [
        `Logged in to ${anonymous.url} as ${describe(who)}.`,
        `Token ${tokenId || '(unknown id)'} ${expiresAt === null ? 'never expires' : `expires ${formatTime(expiresAt)}`}; stored in ${path}.`,
        whereRoles(who),
      ].join('\n'),
    );
    if (process.env.LAPIS_TOKEN) note('Note: LAPIS_TOKEN is set, and takes precedence over the stored login until you unset it.');
  });

  withGlobalOptions(
    program
      .command('logout')
      .description('Forget the stored token for the server, revoking it when this CLI created it at login')
      .option('--revoke', 'also revoke a token that was stored with --token (it may be in use elsewhere)'),
  ).action(async (opts: { revoke?: boolean }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const url = serverKey(ctx.client.url);
    const stored = storedCredential(url);
    if (!stored) {
      print(ctx.output, { server: url, logged_out: false, revoked: false }, () => `Not logged in to ${url}: no token is stored for it.`);
      if (process.env.LAPIS_TOKEN) note('LAPIS_TOKEN is set in your environment; unset it to stop using that token.');
      return;
    }
    let revoked = false;
    let why: string | undefined;
    if (stored.source === 'password' || opts.revoke) {
      revoked = await revoke(ctx.client.withToken(stored.token), stored.token_id || tokenIdOf(stored.token) || '').then(
        () => true,
        (err: unknown) => {
          why = err instanceof Error ? err.message : String(err);
          return false;
        },
      );
    }
    removeCredential(url);
    print(ctx.output, { server: url, logged_out: true, principal: stored.principal, token_id: stored.token_id, revoked }, () =>
      revoked
        ? `Logged out of ${url} (${stored.principal}): token ${stored.token_id} revoked and forgotten.`
        : `Logged out of ${url} (${stored.principal}): token ${stored.token_id} forgotten.`,
    );
    if (why) note(`The token could not be revoked on the server (${why}); it stays valid until it expires unless an admin revokes it.`);
    else if (!revoked) note(`The token was given with --token and may be in use elsewhere, so it was not revoked; revoke it with 'lapis token revoke ${stored.token_id}' (or logout --revoke).`);
    if (process.env.LAPIS_TOKEN) note('LAPIS_TOKEN is still set in your environment; unset it too.');
  });

  withGlobalOptions(program.command('whoami').description('Show who the server sees you as, and where you have roles')).action(async (_opts: unknown, cmd: Command) => {
    const ctx = contextOf(cmd);
    const who = await ctx.client.auth.whoami();
    print(ctx.output, { server: ctx.client.url, token_source: ctx.tokenSource, ...who }, () =>
      who.auth_enabled
        ? `${describe(who)}\n${fields([
            ['Server', ctx.client.url],
            ['Token from', tokenFrom(ctx.tokenSource)],
            ['Workspaces', who.workspaces.length === 0 ? (who.is_admin ? '- (a server admin acts in every workspace)' : '- (no roles yet)') : who.workspaces.map((w) => `${w.name} (${w.roles.join(', ')})`).join(', ')],
          ])}`
        : `${AUTH_OFF(ctx.client.url).replace(/, so there is nothing to log in to\.$/, '.')}\n${fields([['Server', ctx.client.url]])}`,
    );
  });
}

async function revoke(client: LapisClient, id: string): Promise<void> {
  if (!id) throw new Error('the stored token has no id');
  try {
    await client.tokens.revoke(id);
  } catch (err) {
    // Already revoked or expired: it no longer works, which is what logout wants.
    if (err instanceof LapisError && err.code === 'UNAUTHENTICATED') return;
    throw err;
  }
}

function authOff(output: Parameters<typeof print>[0], url: string): void {
  print(output, { server: url, auth_enabled: false }, () => AUTH_OFF(url));
}

function describe(who: WhoAmI): string {
  const kind = who.kind === 'service_principal' ? 'service principal' : who.kind;
  return `${who.name} (${kind}${who.is_admin ? ', server admin' : ''})`;
}

function whereRoles(who: WhoAmI): string {
  if (who.workspaces.length > 0) return `Roles: ${who.workspaces.map((w) => `${w.roles.join(', ')} in ${w.name}`).join('; ')}.`;
  if (who.is_admin) return 'As a server admin you may act in every workspace.';
  return `No roles in any workspace yet: an Owner can grant one with 'lapis role assign --user ${who.name} --role Reader -w <workspace>'.`;
}

function tokenFrom(source: TokenSource): string {
  return source === 'env' ? 'LAPIS_TOKEN' : source === 'stored' ? `lapis login (${credentialsPath()})` : 'none';
}
