import { describe, it, expect } from 'vitest';
import type { BridgeEvent } from '../../contracts/index.js';
import { createDispatcher, type Delivery, type Dispatcher } from '../../consumers/dispatcher.js';
import type { Lease } from '../../src/state/stores.js';

function message(id: string, data: unknown = { tripId: 'trip-1', changes: { name: 'Alps' } }) {
  return { specversion: '1.0', id, source: 'trip-service', type: 'trip.updated', data };
}

/** A dispatcher over a route that records each event with the lease it was given. */
function setup(answer: Delivery = 'delivered') {
  const routed: Array<[BridgeEvent, Lease]> = [];
  const dispatcher = createDispatcher(async (event, lease) => {
    routed.push([event, lease]);
    return answer;
  });
  return { dispatcher, routed };
}

const lease = { token: 'lease-1' };

/** What the broker layer does with one body: decode, then deliver what is valid. */
async function dispatch(dispatcher: Dispatcher, body: unknown) {
  const decoded = dispatcher.decode(Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)));
  if (!decoded.ok) return { kind: 'rejected' as const, reason: decoded.reason, detail: decoded.detail };
  return { kind: await dispatcher.deliver(decoded.event, lease), event: decoded.event };
}

describe('createDispatcher', () => {
  it('routes a valid event under the lease it was given, and reports what the route answered', async () => {
    const { dispatcher, routed } = setup();
    const outcome = await dispatch(dispatcher, Buffer.from(JSON.stringify(message('evt-1'))));
    expect(outcome).toMatchObject({ kind: 'delivered', event: { id: 'evt-1', type: 'trip.updated' } });
    expect(routed.map(([e, l]) => [e.id, l])).toEqual([['evt-1', lease]]);
    expect((await dispatch(setup('duplicate').dispatcher, message('evt-1'))).kind).toBe('duplicate');
  });

  it('rejects an undecodable message with its reason and detail, without routing it', async () => {
    const { dispatcher, routed } = setup();
    const outcome = await dispatch(dispatcher, message('evt-bad', { tripId: 'bad id', changes: {} }));
    expect(outcome).toMatchObject({ kind: 'rejected', reason: 'invalid_data', detail: expect.stringMatching(/^data\.tripId/) });
    expect(routed).toHaveLength(0);
  });

  it.each([
    ['invalid_json', Buffer.from('{nope')],
    ['invalid_envelope', { ...message('evt-1'), specversion: '0.3' }],
    ['unknown_type', { ...message('evt-1'), type: 'client.trip.update' }],
    ['too_large', Buffer.alloc(256 * 1024 + 1, ' ')],
  ])('rejects with %s', async (reason, body) => {
    const { dispatcher, routed } = setup();
    expect(await dispatch(dispatcher, body)).toMatchObject({ kind: 'rejected', reason });
    expect(routed).toHaveLength(0);
  });

  it('propagates a routing failure, for the broker layer to retry', async () => {
    const dispatcher = createDispatcher(async () => {
      throw new Error('fan-out failed');
    });
    await expect(dispatch(dispatcher, message('evt-1'))).rejects.toThrow('fan-out failed');
  });
});
