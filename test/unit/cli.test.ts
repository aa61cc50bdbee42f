import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../../src/auth/verify-token.js';
import { EXIT, UsageError } from '../../src/cli/command.js';
import { runCli } from '../../src/cli/run.js';
import { parseTtl } from '../../src/cli/token.js';
import { DEV_JWT_SECRET, loadConfig } from '../../src/config.js';

// Nothing listens here: a command that got as far as connecting would fail with exit code 1, not 2.
const NO_BROKER = { AMQP_URL: 'amqp://guest:guest@127.0.0.1:1' };

/** Runs the CLI in-process with `env`, collecting what it writes. */
async function run(argv: string[], env: Record<string, string> = NO_BROKER) {
  const out = { stdout: '', stderr: '' };
  const code = await runCli(argv, {
    env,
    stdout: (text) => (out.stdout += text),
    stderr: (text) => (out.stderr += text),
    signal: new AbortController().signal,
  });
  return { code, ...out };
}

describe('the bridge CLI without a network', () => {
  it('prints its help with the commands and the exit codes, and each command its own', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(EXIT.ok);
    for (const text of ['publish', 'dead-letters', 'token', 'tail', '1  runtime failure', '2  usage error']) expect(help.stdout).toContain(text);
    for (const command of ['publish', 'dead-letters', 'token', 'tail']) {
      const own = await run([command, '--help']);
      expect(own.code).toBe(EXIT.ok);
      expect(own.stdout).toContain(`Usage: bridge ${command}`);
    }
    expect(await run([])).toMatchObject({ code: EXIT.usage, stdout: '' });
    expect(await run(['frobnicate'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('unknown command "frobnicate"') });
  });

  it('checks publish input before connecting, naming every invalid field', async () => {
    const invalid = await run(['publish', 'notification.created', '--data', '{"userId":"u 1","notification":{"type":"info","title":""}}']);
    expect(invalid.code).toBe(EXIT.usage);
    expect(invalid.stderr).toContain('data.userId: must be 1–128 characters');
    expect(invalid.stderr).toContain('data.notification.title');
    expect(invalid.stderr).toContain('data.notification.message');
    expect(await run(['publish', 'trip.updated', '--data', '{"tripId":'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('not valid JSON') });
    expect(await run(['publish', 'trip.updated'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('missing --data') });
    const longId = await run(['publish', 'trip.deleted', '--data', '{"tripId":"t"}', '--id', 'x'.repeat(129)]);
    expect(longId).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('--id:') });
    expect(await run(['publish', 'trip.deleted', '--data', '{}', '--colour', 'red'])).toMatchObject({ code: EXIT.usage });
  });

  it('reads --data from a file with @path', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bridge-cli-')), 'event.json');
    writeFileSync(file, '{"tripId":"t","changes":"not an object"}');
    expect(await run(['publish', 'trip.updated', '--data', `@${file}`])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('data.changes') });
    expect(await run(['publish', 'trip.updated', '--data', `@${file}.missing`])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('ENOENT') });
  });

  it('signs a token the service verifies, with the dev fallback of src/config.ts when JWT_SECRET is unset', async () => {
    const signed = await run(['token', '--sub', 'ann', '--trips', 'a, b', '--role', 'admin', '--name', 'Ann'], { JWT_ISSUER: 'my-api' });
    expect(signed.code).toBe(EXIT.ok);
    expect(signed.stderr).toContain('JWT_SECRET is unset');
    expect(signed.stderr).not.toContain(DEV_JWT_SECRET);
    // Verified exactly as a service started with the same environment verifies it.
    const config = loadConfig({ JWT_ISSUER: 'my-api' });
    const verify = createTokenVerifier({ secret: config.JWT_SECRET, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE });
    expect(await verify(signed.stdout.trim())).toMatchObject({ sub: 'ann', trips: ['a', 'b'], role: 'admin', name: 'Ann' });
    const otherIssuer = loadConfig({});
    await expect(
      createTokenVerifier({ secret: otherIssuer.JWT_SECRET, issuer: otherIssuer.JWT_ISSUER, audience: otherIssuer.JWT_AUDIENCE })(signed.stdout.trim()),
    ).rejects.toThrow();
  });

  it('refuses bad claims and, under NODE_ENV=production, any development token (token and tail)', async () => {
    expect(await run(['token', '--sub', 'has space'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('sub: must be') });
    expect(await run(['token', '--sub', 'a', '--role', 'root'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('--role') });
    expect(await run(['token'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('missing --sub') });
    for (const argv of [['token', '--sub', 'a'], ['tail', 'trip-1']]) {
      const refused = await run(argv, { NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-of-some-length' });
      expect(refused).toMatchObject({ code: EXIT.usage, stdout: '', stderr: expect.stringContaining('NODE_ENV=production') });
      expect(refused.stderr).not.toContain('a-production-secret');
    }
  });

  it('parses --ttl durations up to 30 days', () => {
    expect([parseTtl('90'), parseTtl('90s'), parseTtl('15m'), parseTtl('1h'), parseTtl('7d'), parseTtl('30d')]).toEqual([90, 90, 900, 3600, 604_800, 2_592_000]);
    for (const bad of ['0', '31d', '1w', '-5m', 'soon', '']) expect(() => parseTtl(bad)).toThrow(UsageError);
  });

  it('checks dead-letters actions and limits against the HTTP routes’ bounds', async () => {
    expect(await run(['dead-letters', 'purge'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('unknown action "purge"') });
    expect(await run(['dead-letters', 'list', '--limit', '501'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('--limit') });
    expect(await run(['dead-letters', 'replay', '--limit', 'all'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('--limit') });
  });

  it('refuses a bad trip id, URL or token choice for tail before connecting', async () => {
    expect(await run(['tail'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('missing <tripId>') });
    expect(await run(['tail', 'bad trip'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('<tripId>') });
    expect(await run(['tail', 't', '--url', 'ftp://x'])).toMatchObject({ code: EXIT.usage, stderr: expect.stringContaining('--url') });
    expect(await run(['tail', 't', '--token', 'x', '--sub', 'y'])).toMatchObject({ code: EXIT.usage });
  });
});
