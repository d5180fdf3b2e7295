#!/usr/bin/env node
import { Command } from 'commander';
import { LAPIS_VERSION } from '../server/version.js';
import { experimentCommand } from './experiment.js';
import { exitCodeOf, reportError } from './output.js';
import { runCommand } from './run.js';
import { serverCommand } from './server.js';
import { workspaceCommand } from './workspace.js';

const program = new Command();
program.name('lapis').description('Lapis: self-hosted MLOps — tracking, registry, jobs, endpoints').version(LAPIS_VERSION);
// Parse errors throw (after commander prints them) so they get the same exit codes as the rest.
program.exitOverride();
serverCommand(program);
workspaceCommand(program);
experimentCommand(program);
runCommand(program);

// Exit codes: 0 ok, 2 bad input (4xx), 3 not found, 4 server unreachable, 1 anything else.
program.parseAsync(process.argv).catch((err: unknown) => {
  reportError(err);
  process.exit(exitCodeOf(err));
});
