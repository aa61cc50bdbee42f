import { afterAll, describe, expect, it } from 'vitest';
import { TestAmqp, uniqueName } from '../helpers/amqp.js';
import { amqpUrl } from '../helpers/bridge.js';
import { connectClient, waitFor } from '../helpers/client.js';
import { runService, type ServiceProcess } from '../helpers/process.js';
import { signToken, TEST_SECRET } from '../helpers/tokens.js';

type AnyAck = { ok: boolean; error?: { code: string; message: string } };
type Raw = { timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<AnyAck> }; emit(event: string, ...args: unknown[]): void };

/**
 * A client may send an event named `error` (Socket.IO reserves only connect, disconnect and the like):
 * the server socket then emits its own `error` with the client's payload. Found by the fuzzer (seed 11,
 * case 475: `42["error",null]` killed the process). In a child process, so that a crash is an exit code.
 */
describe.skipIf(!amqpUrl)('a client event named "error"', () => {
  const name = uniqueName('error-event');
  const amqp = amqpUrl ? new TestAmqp(amqpUrl) : undefined;
  let service: ServiceProcess | undefined;
  afterAll(async () => {
    service?.child.kill('SIGKILL');
    await amqp?.cleanup([name, `${name}.dead-letter`], [`${name}.events`]);
    await amqp?.close();
  });

  it('is answered as an unknown event and neither crashes the process nor forges a protocol_error line', async () => {
    service = runService({ NODE_ENV: 'test', PORT: '0', JWT_SECRET: TEST_SECRET, AMQP_URL: amqpUrl!, AMQP_QUEUE: name, AMQP_EXCHANGE: `${name}.events`, LOG_LEVEL: 'info' });
    const started = await service.waitForLog((l) => l.event === 'bridge.started');
    const url = `http://127.0.0.1:${started.port as number}`;
    const { socket } = await connectClient(url, await signToken({ sub: 'error-sender' }));
    const raw = socket as unknown as Raw;

    const ack = await raw.timeout(3_000).emitWithAck('error', null);
    expect(ack).toEqual({ ok: false, error: { code: 'invalid_payload', message: 'unknown event error' } });
    const refused = waitFor(socket, 'request:error');
    raw.emit('error');
    raw.emit('error', { message: 'forged' });
    expect(await refused).toMatchObject({ event: 'error', code: 'invalid_payload' });

    // Still up, still the same socket, and nothing in the log pretends the parser refused a packet.
    await new Promise((r) => setTimeout(r, 300));
    expect(service.child.exitCode).toBeNull();
    expect((await raw.timeout(3_000).emitWithAck('ping', {})).ok).toBe(true);
    expect((await fetch(`${url}/api/v1/socket/health`)).status).toBe(200);
    expect(service.logs().filter((l) => l.event === 'socket.protocol_error')).toEqual([]);
    expect(service.lines.filter((l) => !l.startsWith('{'))).toEqual([]);
    socket.disconnect();
  });
});
