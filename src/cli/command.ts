/** What the process exits with; `bridge --help` lists them, and scripts rely on them. */
export const EXIT = {
  ok: 0,
  /** Runtime failure: the broker or the bridge was unreachable, did not confirm, or refused the join. */
  failure: 1,
  /** Usage error: bad arguments, invalid event data, bad configuration, or refused here; nothing was attempted. */
  usage: 2,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A command failed; `code` is its exit code and `message` the one line printed on stderr. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly code: ExitCode,
  ) {
    super(message);
  }
}

/** Bad input or a refused precondition: exits 2 before anything reached the network. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** Something failed at run time (broker, bridge): exits 1. */
export class FailureError extends CliError {
  constructor(message: string) {
    super(message, EXIT.failure);
  }
}

/** Where a command writes, and what it reads: passed in, so that tests need no child process. */
export interface CliContext {
  env: Record<string, string | undefined>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Aborted on SIGINT/SIGTERM: long-running commands (`tail`) stop and exit 0. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  /** One line for `bridge --help`. */
  summary: string;
  /** The text of `bridge <name> --help`. */
  usage: string;
  /** Runs with the arguments after the command's name; resolves with the exit code. */
  run(args: string[], ctx: CliContext): Promise<ExitCode>;
}
