#!/usr/bin/env node
import { Command } from 'commander';
import { LapisError } from '../core/errors.js';
import { LAPIS_VERSION } from '../server/version.js';
import { serverCommand } from './server.js';

const program = new Command();
program.name('lapis').description('Lapis: self-hosted MLOps — tracking, registry, jobs, endpoints').version(LAPIS_VERSION);
serverCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof LapisError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(err.status === 404 ? 3 : err.status < 500 ? 2 : 1);
  }
  process.stderr.write(`error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
