/**
 * The lapis program: every command, parsed and run. Started by `lapis.js` from client.cjs (this
 * program bundled into one file, see lapis.ts) or by `main.js` (the same, as separate modules).
 */
import { Command } from 'commander';
import { LapisError } from '../core/errors.js';
import { LAPIS_VERSION } from '../server/version.js';
import { assetCommands } from './asset.js';
import { auditCommand } from './audit.js';
import { computeCommand } from './compute.js';
import { datastoreCommand } from './datastore.js';
import { batchCommands } from './batch.js';
import { endpointCommands } from './endpoint.js';
import { lastTokenSource } from './context.js';
import { experimentCommand } from './experiment.js';
import { jobCommand } from './job.js';
import { loginCommands } from './login.js';
import { modelCommand } from './model.js';
import { exitCodeOf, note, reportError } from './output.js';
import { registryCommand } from './registry.js';
import { roleCommand } from './role.js';
import { runCommand } from './run.js';
import { serverCommand } from './server.js';
import { tokenCommand } from './token.js';
import { userCommands } from './user.js';
import { workspaceCommand } from './workspace.js';

const program = new Command();
program.name('lapis').description('Lapis: self-hosted MLOps — tracking, registry, jobs, endpoints').version(LAPIS_VERSION);
// Parse errors throw (after commander prints them) so they get the same exit codes as the rest.
program.exitOverride();
// Options after a command belong to it: `lapis data show --version 2` is the asset's version, not the CLI's.
program.enablePositionalOptions();
serverCommand(program);
loginCommands(program);
workspaceCommand(program);
experimentCommand(program);
runCommand(program);
assetCommands(program);
modelCommand(program);
registryCommand(program);
jobCommand(program);
computeCommand(program);
datastoreCommand(program);
endpointCommands(program);
batchCommands(program);
tokenCommand(program);
userCommands(program);
roleCommand(program);
auditCommand(program);

// Exit codes: 0 ok, 2 bad input (4xx), 3 not found, 4 server unreachable, 1 anything else.
program.parseAsync(process.argv).catch((err: unknown) => {
  reportError(err);
  // A token that stopped working: say which one, so the fix is obvious.
  if (err instanceof LapisError && err.code === 'UNAUTHENTICATED' && lastTokenSource) {
    if (lastTokenSource.source === 'stored') note(`(The token is the one 'lapis login' stored for ${lastTokenSource.server}: run 'lapis login' again.)`);
    if (lastTokenSource.source === 'env') note('(The token comes from LAPIS_TOKEN.)');
  }
  process.exit(exitCodeOf(err));
});
