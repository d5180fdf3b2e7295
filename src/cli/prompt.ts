import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { LapisError } from '../core/errors.js';

/**
 * Reading what a person types, and secrets piped on stdin. Prompts go to stderr, so stdout keeps
 * only data. Secrets are never taken from the command line, where `ps` and shell history see them.
 */

/** Whether a person can answer a prompt: stdin is a terminal. */
export const interactive = (): boolean => process.stdin.isTTY === true;

/** All of stdin as text. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** A secret piped on stdin (`--password-stdin`): everything up to the end, minus one final newline. */
export async function readSecretFromStdin(what: string): Promise<string> {
  const secret = (await readStdin()).replace(/\r?\n$/, '');
  if (secret === '') throw new LapisError('INVALID_ARGUMENT', `No ${what} on stdin: pipe it in, e.g. 'printf %s "$PASSWORD" | lapis …'.`);
  return secret;
}

function ask(question: string, muted: boolean): Promise<string> {
  let mute = false;
  // With `terminal: true` readline puts the terminal in raw mode and echoes keys itself, to this
  // output: muting it after the question is written hides what is typed.
  const output = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      if (!mute) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true, historySize: 0 });
  return new Promise((resolve) => {
    rl.on('SIGINT', () => {
      rl.close();
      process.stderr.write('\n');
      process.exit(130);
    });
    rl.question(question, (answer) => {
      rl.close();
      if (muted) process.stderr.write('\n');
      resolve(answer);
    });
    mute = muted;
  });
}

/** Asks a question on the terminal; the answer is echoed. */
export function promptLine(question: string): Promise<string> {
  return ask(question, false);
}

/** Asks for a secret on the terminal; nothing typed is echoed. */
export function promptSecret(question: string): Promise<string> {
  return ask(question, true);
}
