import { Option, type Command } from 'commander';
import type { NewServicePrincipal } from '../client/index.js';
import { contextOf, expiresArg, expiresValue, withGlobalOptions } from './context.js';
import { formatTime, print, table, truncate } from './output.js';
import { readSecretFromStdin } from './prompt.js';
import { newTokenView } from './token.js';

/** `lapis user create | list | disable | enable` and `lapis service-principal create` (server admins). */
export function userCommands(program: Command): void {
  const user = program.command('user').description('Manage users (server admins)');

  withGlobalOptions(
    user
      .command('create')
      .description('Create a user; without a password it can only use tokens made for it')
      .argument('<name>', "user name: 2–128 lowercase letters, digits, '.', '_', '-' or '@', e.g. 'ana' or 'ana@example.com'")
      .option('--password-stdin', 'read the password (at least 12 characters) from stdin')
      .option('--admin', 'make the user a server admin (every workspace, users, roles)')
      .option('--display-name <text>', 'full name shown in lists'),
  ).action(async (name: string, opts: { passwordStdin?: boolean; admin?: boolean; displayName?: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const password = opts.passwordStdin ? await readSecretFromStdin('password') : undefined;
    const p = await ctx.client.users.create(name, {
      ...(password !== undefined ? { password } : {}),
      ...(opts.admin ? { admin: true } : {}),
      ...(opts.displayName !== undefined ? { displayName: opts.displayName } : {}),
    });
    print(ctx.output, p, () =>
      [
        `Created user '${p.name}'${p.is_admin ? ' (server admin)' : ''}.`,
        password === undefined
          ? `It has no password (the server cannot set one later): give it a token with 'lapis token create --for ${p.name}'.`
          : `It can log in with 'lapis login --username ${p.name}'.`,
        p.is_admin ? '' : `Give it a role in a workspace: lapis role assign --user ${p.name} --role Reader -w <workspace>`,
      ]
        .filter(Boolean)
        .join('\n'),
    );
  });

  withGlobalOptions(user.command('list').description('List users and service principals')).action(async (_opts: unknown, cmd: Command) => {
    const ctx = contextOf(cmd);
    const { principals } = await ctx.client.users.list();
    print(ctx.output, principals, () =>
      principals.length === 0
        ? 'No users.'
        : table(
            ['NAME', 'KIND', 'DISPLAY NAME', 'ADMIN', 'STATUS', 'CREATED'],
            principals.map((p) => [
              p.name,
              p.kind === 'service_principal' ? 'service principal' : p.kind,
              truncate(p.display_name, 40),
              p.is_admin ? 'yes' : 'no',
              p.disabled ? 'disabled' : 'enabled',
              formatTime(p.created_at),
            ]),
          ),
    );
  });

  for (const [verb, effect] of [
    ['disable', 'its password and tokens stop working until it is enabled again'],
    ['enable', 'its password and unexpired tokens work again'],
  ] as const) {
    withGlobalOptions(user.command(verb).description(`${verb === 'disable' ? 'Disable' : 'Enable'} a user or service principal: ${effect}`).argument('<name>', 'user or service principal name')).action(
      async (name: string, _opts: unknown, cmd: Command) => {
        const ctx = contextOf(cmd);
        await (verb === 'disable' ? ctx.client.users.disable(name) : ctx.client.users.enable(name));
        print(ctx.output, { name, disabled: verb === 'disable' }, () => `${verb === 'disable' ? 'Disabled' : 'Enabled'} '${name}': ${effect}.`);
      },
    );
  }

  const sp = program.command('service-principal').description('Manage service principals: token-only identities for CI and automation (server admins)');
  withGlobalOptions(
    sp
      .command('create')
      .description('Create a service principal and its first token (printed once)')
      .argument('<name>', "name, e.g. 'ci' or 'nightly-retrain'")
      .option('--display-name <text>', 'what it is for, shown in lists')
      .addOption(new Option('--expires <duration>', "lifetime of its token, e.g. 90d, or 'never'").default('90d').argParser(expiresArg)),
  ).action(async (name: string, opts: { displayName?: string; expires: string }, cmd: Command) => {
    const ctx = contextOf(cmd);
    const expires = expiresValue(opts.expires);
    const created = await ctx.client.servicePrincipals.create(name, {
      ...(opts.displayName !== undefined ? { displayName: opts.displayName } : {}),
      ...(expires !== undefined ? { expires } : {}),
    });
    print(ctx.output, created, () => servicePrincipalView(created));
  });
}

function servicePrincipalView(created: NewServicePrincipal): string {
  return [
    `Created service principal '${created.principal.name}'.`,
    newTokenView(created.token),
    `Give it a role in a workspace: lapis role assign --principal ${created.principal.name} --role Contributor -w <workspace>`,
  ].join('\n');
}
