import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { issueText } from '../../contracts/index.js';
import { UsageError } from './command.js';

export interface CommandArgs<S extends string, F extends string> {
  values: { [K in S]?: string } & { [K in F | 'help']?: boolean };
  positionals: string[];
}

/**
 * util.parseArgs in strict mode over string options `strings` and boolean options `flags`, with
 * `--help` added and its errors turned into usage errors.
 */
export function parseCommandArgs<S extends string, F extends string = never>(
  args: string[],
  strings: readonly S[],
  flags: readonly F[] = [],
): CommandArgs<S, F> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const name of strings) options[name] = { type: 'string' };
  for (const name of flags) options[name] = { type: 'boolean' };
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as CommandArgs<S, F>['values'], positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A value given inline, or read from a file with `@path` (`@-`: standard input), as with curl. */
export function readValue(flag: string, value: string): string {
  if (!value.startsWith('@')) return value;
  const path = value.slice(1);
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${path === '-' ? 'standard input' : path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Every issue of a failed zod parse as `path: message`, the path starting with `prefix`. */
export function describeIssues(error: z.ZodError, prefix: string): string[] {
  return error.issues.map((issue) => issueText(issue, prefix, 'value'));
}

/** Parses one option with a zod schema; a failure is a usage error naming the option. */
export function optionValue<T>(flag: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(`${flag}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** Refuses positional arguments beyond `expected`. */
export function expectPositionals(positionals: string[], expected: number, usage: string): void {
  if (positionals.length > expected) throw new UsageError(`unexpected argument ${positionals[expected]}\n${usage}`);
}
