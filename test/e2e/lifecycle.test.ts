import { afterAll, describe, expect, it } from 'vitest';
import { TestAmqp, uniqueName } from '../helpers/amqp.js';
import { amqpUrl } from '../helpers/bridge.js';
import { connectClient, createClient, connectError, request } from '../helpers/client.js';
import { runService, type ServiceProcess } from '../helpers/process.js';
import { signToken, TEST_SECRET } from '../helpers/tokens.js';

const running: ServiceProcess[] = [];
afterAll(() => {
  for (const service of running) service.child.kill('SIGKILL');
});

function start(env: Record<string, string>) {
  const service = runService({ NODE_ENV: 'test', PORT: '0', JWT_SECRET: TEST_SECRET, ...env });
  running.push(service);
  return service;
}

describe('start-up', () => {
  it('stops with one line naming the variable when the configuration is bad', async () => {
    const service = start({ PORT: 'not-a-port' });
    expect(await service.exited()).toBe(1);
    expect(service.lines).toHaveLength(1);
    expect(service.lines[0]).toMatch(/^invalid configuration: PORT: /);
  });

  it('refuses to start in production without a JWT key', async () => {
    const service = start({ NODE_ENV: 'production', JWT_SECRET: '' });
    expect(await service.exited()).toBe(1);
    expect(service.lines.join('\n')).toContain('JWT_SECRET');
  });

  it('says in one line that RabbitMQ is unreachable, naming AMQP_URL without its password', async () => {
    const service = start({ AMQP_URL: 'amqp://guest:s3cret@127.0.0.1:1', LOG_LEVEL: 'fatal' });
    expect(await service.exited(20_000)).toBe(1);
    expect(service.lines).toHaveLength(1);
    const line = JSON.parse(service.lines[0]!) as { msg: string; event: string };
    expect(line.event).toBe('bridge.start_failed');
    expect(line.msg).toContain('AMQP_URL=amqp://guest:***@127.0.0.1:1');
    expect(service.lines[0]).not.toContain('s3cret');
  });
});

describe.skipIf(!amqpUrl)('a running service', () => {
  const name = uniqueName('lifecycle');
  const env = { AMQP_URL: amqpUrl ?? '', AMQP_QUEUE: name, AMQP_EXCHANGE: `${name}.events`, LOG_LEVEL: 'info' };
  const amqp = amqpUrl ? new TestAmqp(amqpUrl) : undefined;
  afterAll(async () => {
    await amqp?.cleanup([name, `${name}.dead-letter`], [`${name}.events`]);
    await amqp?.close();
  });

  it('logs connections, disconnections and refusals with a stable event field and never a token', async () => {
    const service = start(env);
    const started = await service.waitForLog((l) => l.event === 'bridge.started');
    const url = `http://127.0.0.1:${started.port as number}`;
    const token = await signToken({ sub: 'logged-user' });
    const { socket } = await connectClient(url, token);
    socket.disconnect();
    const refused = createClient(url, { auth: { token: `${token}x` } });
    await connectError(refused);
    await service.waitForLog((l) => l.event === 'socket.disconnected' && l.userId === 'logged-user');
    await service.waitForLog((l) => l.event === 'socket.refused' && l.code === 'token_invalid');
    expect(service.logs().find((l) => l.event === 'socket.connected')).toMatchObject({ userId: 'logged-user' });
    expect(service.lines.join('\n')).not.toContain(token.split('.')[2]);
    service.child.kill('SIGTERM');
    expect(await service.exited()).toBe(0);
  });

  it('on SIGTERM closes sockets so that clients reconnect, leaves later events queued, and exits 0', async () => {
    const service = start(env);
    const started = await service.waitForLog((l) => l.event === 'bridge.started');
    const url = `http://127.0.0.1:${started.port as number}`;
    const { socket } = await connectClient(url, await signToken({ sub: 'u1', trips: ['trip-s'] }));
    await request(socket, 'trip:join', { tripId: 'trip-s' });
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));

    service.child.kill('SIGTERM');
    expect(await disconnected).toBe('transport close');
    expect(await service.exited(12_000)).toBe(0);
    expect(service.logs().map((l) => l.event)).toEqual(expect.arrayContaining(['bridge.stopping', 'bridge.stopped']));

    // Nothing consumes now: an event published after the stop waits in the queue for the next start.
    await amqp!.publishEvent(`${name}.events`, 'trip.updated', { tripId: 'trip-s', changes: {} });
    expect(await amqp!.messageCount(name)).toBe(1);
  });
});
