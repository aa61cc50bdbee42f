import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_JWT_SECRET } from '../../src/config.js';
import { uniqueName } from '../helpers/amqp.js';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { collect, connectClient, request, until, waitFor, type TestSocket } from '../helpers/client.js';
import { signToken, TEST_SECRET } from '../helpers/tokens.js';

// The compiled CLI: the global set-up (test/setup/global.ts) runs `tsc -p tsconfig.build.json` before
// any test, as for the service's own process tests, so a fresh clone needs only `npm ci`.
const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

interface CliRun {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolves with the exit code once both streams are read to their end. */
  exited: Promise<number | null>;
  /** Resolves once `predicate` holds; rejects with the process's stderr if it exits first or after `timeoutMs`. */
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
}

/** Starts `bridge <args>` as its own process with only PATH and `env` (vitest's NODE_ENV does not leak in). */
function startCli(args: string[], env: Record<string, string>): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => stdout.push(line));
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  // Never outlives its test.
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const until = async (predicate: () => boolean, what: string, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (code !== undefined || Date.now() > deadline) {
        throw new Error(`${what}: not seen (${code === undefined ? 'timed out' : `exited ${code}`}); stderr:\n${stderr.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, stdout, stderr, exited, until };
}

/** Runs `bridge <args>` to its end. */
async function cli(args: string[], env: Record<string, string>) {
  const run = startCli(args, env);
  const code = await run.exited;
  return { code, stdout: run.stdout.join('\n'), stderr: run.stderr.join('\n') };
}

describe.skipIf(!amqpUrl)('the bridge CLI', () => {
  let t: TestBridge;
  let env: Record<string, string>;
  let socket: TestSocket;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: the global set-up builds it (npm run build)`);
    t = await startTestBridge();
    env = { AMQP_URL: amqpUrl!, AMQP_EXCHANGE: t.config.AMQP_EXCHANGE, AMQP_QUEUE: t.config.AMQP_QUEUE, JWT_SECRET: TEST_SECRET };
    ({ socket } = await connectClient(t.url, await signToken({ sub: 'watcher', trips: ['trip-cli'] })));
    expect(await request(socket, 'trip:join', { tripId: 'trip-cli' })).toMatchObject({ ok: true });
  });
  afterAll(async () => {
    socket?.disconnect();
    await t?.stop();
  });

  describe('publish', () => {
    let probe: string;
    beforeAll(async () => {
      // Sees everything published to the test exchange, beside the bridge's queue.
      probe = uniqueName('cli-probe');
      await t.amqp.connection.queueDeclare({ queue: probe, exclusive: true });
      await t.amqp.connection.queueBind({ queue: probe, exchange: t.config.AMQP_EXCHANGE, routingKey: '#' });
    });
    afterAll(async () => {
      await t.amqp.cleanup([probe]);
    });

    it('publishes a valid event that a client in the trip receives, and prints its id', async () => {
      const received = waitFor(socket, 'trip:updated');
      const run = await cli(['publish', 'trip.updated', '--data', '{"tripId":"trip-cli","changes":{"name":"Alps"}}', '--source', 'trip-service'], env);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      const event = await received;
      expect(event).toMatchObject({ type: 'trip.updated', tripId: 'trip-cli', source: 'trip-service', data: { changes: { name: 'Alps' } } });
      expect(run.stdout).toBe(event.eventId);
      expect(await t.amqp.messageCount(probe)).toBe(1);
      await t.amqp.drain(probe, 1);
    });

    it('refuses an invalid field with exit code 2, names it, and publishes nothing', async () => {
      const run = await cli(['publish', 'trip.updated', '--data', '{"tripId":"no spaces allowed","changes":{}}'], env);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('data.tripId: must be 1–128 characters');
      expect(run.stdout).toBe('');
      // A publish that had happened was confirmed before the process exited, so it would be here now.
      expect(await t.amqp.messageCount(probe)).toBe(0);
    });

    it('validates before connecting: invalid data is exit code 2 even with the broker unreachable', async () => {
      const unreachable = { ...env, AMQP_URL: 'amqp://guest:guest@127.0.0.1:1' };
      const invalid = await cli(['publish', 'trip.activity', '--data', '{"tripId":"trip-cli","kind":"","payload":{}}'], unreachable);
      expect(invalid.code).toBe(2);
      expect(invalid.stderr).toContain('data.kind');
      const valid = await cli(['publish', 'trip.updated', '--data', '{"tripId":"trip-cli","changes":{}}'], unreachable);
      expect(valid.code).toBe(1);
      expect(valid.stderr).toContain('RabbitMQ is unreachable at AMQP_URL=amqp://guest:***@127.0.0.1:1');
    });

    it('refuses an unknown type with exit code 2, naming the known types', async () => {
      const run = await cli(['publish', 'trip.renamed', '--data', '{"tripId":"trip-cli"}'], env);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('unknown event type "trip.renamed"');
      expect(run.stderr).toContain('trip.updated');
      expect(run.stderr).toContain('notification.broadcast');
      expect(await t.amqp.messageCount(probe)).toBe(0);
    });
  });

  describe('token', () => {
    it('signs a token the bridge accepts, with the claims asked for', async () => {
      const run = await cli(['token', '--sub', 'ann', '--trips', 'trip-cli,trip-b', '--role', 'user', '--name', 'Ann', '--ttl', '10m'], env);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      const claims = decodeJwt(run.stdout);
      expect(claims).toMatchObject({ sub: 'ann', trips: ['trip-cli', 'trip-b'], role: 'user', name: 'Ann', iss: 'group-planner-api', aud: 'group-planner-client' });
      expect(claims.exp! - claims.iat!).toBe(600);
      const { socket: ann, connected } = await connectClient(t.url, run.stdout);
      try {
        expect(connected.userId).toBe('ann');
        expect(await request(ann, 'trip:join', { tripId: 'trip-cli' })).toMatchObject({ ok: true });
        expect(await request(ann, 'trip:join', { tripId: 'trip-other' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      } finally {
        ann.disconnect();
      }
    });

    it("without JWT_SECRET signs with the service's development key, warns, and never prints the key", async () => {
      const devBridge = await startTestBridge({ JWT_SECRET: '' });
      try {
        const { JWT_SECRET: _unset, ...noSecret } = env;
        const run = await cli(['token', '--sub', 'dev-user'], noSecret);
        expect(run.code).toBe(0);
        expect(run.stderr).toContain('JWT_SECRET is unset');
        expect(`${run.stdout}\n${run.stderr}`).not.toContain(DEV_JWT_SECRET);
        const { connected, socket: dev } = await connectClient(devBridge.url, run.stdout);
        dev.disconnect();
        expect(connected.userId).toBe('dev-user');
      } finally {
        await devBridge.stop();
      }
    });

    it('refuses under NODE_ENV=production, with or without JWT_SECRET', async () => {
      for (const production of [{ ...env, NODE_ENV: 'production' }, { NODE_ENV: 'production' }]) {
        const run = await cli(['token', '--sub', 'ann'], production);
        expect(run.code).toBe(2);
        expect(run.stderr).toContain('NODE_ENV=production');
        expect(run.stdout).toBe('');
      }
    });
  });

  describe('dead-letters', () => {
    const dlq = () => `${t.config.AMQP_QUEUE}.dead-letter`;
    const dlqCount = () => t.amqp.messageCount(dlq());
    const untilCount = async (count: number) => {
      for (let i = 0; i < 100 && (await dlqCount()) !== count; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await dlqCount()).toBe(count);
    };

    /** Empties the dead-letter queue, then has the bridge dead-letter one body that is not JSON. */
    async function deadLetterBrokenBody(): Promise<void> {
      const left = await dlqCount();
      if (left > 0) await t.amqp.drain(dlq(), left);
      await t.amqp.publishRaw(t.config.AMQP_EXCHANGE, 'trip.updated', '{"broken":');
      await untilCount(1);
    }

    it("lists a dead letter's reason, detail, routing key and body, and leaves it there", async () => {
      await deadLetterBrokenBody();
      const text = await cli(['dead-letters', 'list'], env);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`${dlq()}: 1 dead letter`);
      expect(text.stdout).toContain('invalid_json');
      expect(text.stdout).toContain('routing key trip.updated');
      expect(text.stdout).toContain('body: {"broken":');
      const json = await cli(['dead-letters', 'list', '--json'], env);
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({
        queue: dlq(),
        total: 1,
        messages: [{ reason: 'invalid_json', routingKey: 'trip.updated', body: '{"broken":', detail: expect.any(String) }],
      });
      expect(await dlqCount()).toBe(1);
    });

    it('replays dead letters to the exchange: a good one reaches the trip, a bad one is dead-lettered again', async () => {
      await deadLetterBrokenBody();
      // As if its handler had failed: a valid event, parked with the headers the bridge adds.
      const parked = { specversion: '1.0', id: 'evt-cli-parked', source: 'trip-service', type: 'trip.updated', data: { tripId: 'trip-cli', changes: { back: true } } };
      await t.amqp.publishRaw('', dlq(), parked, {
        headers: { 'x-rejection-reason': 'handler_failed', 'x-rejection-detail': 'redis down', 'x-original-routing-key': 'trip.updated' },
      });
      expect(await dlqCount()).toBe(2);
      const events = collect(socket, 'trip:updated');
      const run = await cli(['dead-letters', 'replay', '--json'], env);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ queue: dlq(), replayed: 2, unroutable: 0 });
      await until(() => events.length > 0, 5000, 'the replayed event');
      expect(events[0]).toMatchObject({ eventId: 'evt-cli-parked', data: { changes: { back: true } } });
      // The broken body went back through the bridge and came back as invalid_json; the parked one is gone.
      const list = async () => JSON.parse((await cli(['dead-letters', 'list', '--json'], env)).stdout) as { total: number; messages: Array<{ reason: string }> };
      let after = await list();
      for (let i = 0; i < 50 && after.total !== 1; i++) after = await list();
      expect(after).toMatchObject({ total: 1, messages: [{ reason: 'invalid_json' }] });
    });

    it('refuses a queue that does not exist rather than declaring it', async () => {
      const missing = uniqueName('cli-missing');
      const run = await cli(['dead-letters', 'list'], { ...env, AMQP_QUEUE: missing });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`${missing}.dead-letter does not exist`);
      await expect(t.amqp.messageCount(`${missing}.dead-letter`)).rejects.toThrow();
    });
  });

  describe('tail', () => {
    it('prints each trip event as one JSON line and exits 0 on SIGTERM', async () => {
      const tail = startCli(['tail', 'trip-cli', '--url', t.url, '--sub', 'tailer'], env);
      await tail.until(() => tail.stderr.some((l) => l.includes('joined trip trip-cli')), 'the join');
      const eventId = await t.amqp.publishEvent(t.config.AMQP_EXCHANGE, 'trip.updated', { tripId: 'trip-cli', changes: { tail: 1 } });
      await tail.until(() => tail.stdout.length > 0, 'a JSON line', 5000);
      expect(JSON.parse(tail.stdout[0]!)).toMatchObject({ eventId, type: 'trip.updated', tripId: 'trip-cli', data: { changes: { tail: 1 } } });
      tail.child.kill('SIGTERM');
      expect(await tail.exited).toBe(0);
      expect(tail.stdout).toHaveLength(1);
    });

    it('exits 1 with the ack code when the join is refused', async () => {
      const token = await signToken({ sub: 'outsider', trips: ['elsewhere'] });
      const run = await cli(['tail', 'trip-cli', '--url', t.url, '--token', token], env);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('join refused: forbidden');
    });
  });
});
