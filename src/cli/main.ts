#!/usr/bin/env node
import { EXIT } from './command.js';
import { runCli } from './run.js';

/** The `bridge` executable: signals become an abort, the command's result the exit code. */
const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => controller.abort());
// The reader went away (`bridge tail … | head -1`): stop as on a signal rather than crash on EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  controller.abort();
});

let code: number;
try {
  code = await runCli(process.argv.slice(2), {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    signal: controller.signal,
  });
} catch (err) {
  process.stderr.write(`bridge: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
  code = EXIT.failure;
}
// Exit once stdout is flushed, so that a pipe gets every line; sockets and timers may still be winding down.
process.stdout.write('', () => process.exit(code));
