import { describe, it, expect } from 'vitest';
import type { BridgeEvent } from '../../contracts/index.js';
import { createDispatcher, type Dispatcher } from '../../consumers/dispatcher.js';
import { MemoryDedupeStore } from '../../src/state/memory-stores.js';

function message(id: string, data: unknown = { tripId: 'trip-1', changes: { name: 'Alps' } }) {
  return { specversion: '1.0', id, source: 'trip-service', type: 'trip.updated', data };
}

/** A dispatcher over a real in-memory dedupe store and a route that records (or fails on) each event. */
function setup(options: { failTimes?: number } = {}) {
  const routed: BridgeEvent[] = [];
  let failures = options.failTimes ?? 0;
  const dedupe = new MemoryDedupeStore();
  const dispatcher = createDispatcher({
    dedupe,
    route: async (event) => {
      if (failures > 0) {
        failures -= 1;
        throw new Error('fan-out failed');
      }
      routed.push(event);
    },
  });
  return { dispatcher, dedupe, routed };
}

/** What the broker layer does with one body: decode, then deliver what is valid. */
async function dispatch(dispatcher: Dispatcher, body: unknown) {
  const decoded = dispatcher.decode(body);
  if (!decoded.ok) return { kind: 'rejected' as const, reason: decoded.reason, detail: decoded.detail };
  return { kind: await dispatcher.deliver(decoded.event), event: decoded.event };
}

describe('createDispatcher', () => {
  it('routes a valid event once and reports it delivered', async () => {
    const { dispatcher, routed } = setup();
    const outcome = await dispatch(dispatcher, Buffer.from(JSON.stringify(message('evt-1'))));
    expect(outcome).toMatchObject({ kind: 'delivered', event: { id: 'evt-1', type: 'trip.updated' } });
    expect(routed.map((e) => e.id)).toEqual(['evt-1']);
  });

  it('reports a second message with the same id as duplicate and does not route it', async () => {
    const { dispatcher, routed } = setup();
    await dispatch(dispatcher, message('evt-1'));
    const outcome = await dispatch(dispatcher, message('evt-1', { tripId: 'trip-2', changes: {} }));
    expect(outcome).toMatchObject({ kind: 'duplicate', event: { id: 'evt-1' } });
    expect(routed).toHaveLength(1);
    expect(routed[0]?.data).toMatchObject({ tripId: 'trip-1' });
  });

  it('routes messages with different ids independently', async () => {
    const { dispatcher, routed } = setup();
    await dispatch(dispatcher, message('evt-1'));
    await dispatch(dispatcher, message('evt-2'));
    expect(routed.map((e) => e.id)).toEqual(['evt-1', 'evt-2']);
  });

  it('rejects an undecodable message with its reason and detail, without routing or claiming it', async () => {
    const { dispatcher, dedupe, routed } = setup();
    const outcome = await dispatch(dispatcher, message('evt-bad', { tripId: 'bad id', changes: {} }));
    expect(outcome).toMatchObject({ kind: 'rejected', reason: 'invalid_data', detail: expect.stringMatching(/^data\.tripId/) });
    expect(routed).toHaveLength(0);
    // The id of a rejected message stays free: a corrected republish under the same id is delivered.
    expect(await dedupe.claim('evt-bad')).toBe('new');
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

  it('propagates a routing failure and releases the id, so that the redelivery is routed', async () => {
    const { dispatcher, routed } = setup({ failTimes: 1 });
    await expect(dispatch(dispatcher, message('evt-1'))).rejects.toThrow('fan-out failed');
    expect(routed).toHaveLength(0);

    const redelivery = await dispatch(dispatcher, message('evt-1'));
    expect(redelivery.kind).toBe('delivered');
    expect(routed.map((e) => e.id)).toEqual(['evt-1']);
  });

  it('still treats a successfully routed redelivery as seen afterwards', async () => {
    const { dispatcher } = setup({ failTimes: 1 });
    await expect(dispatch(dispatcher, message('evt-1'))).rejects.toThrow();
    await dispatch(dispatcher, message('evt-1'));
    expect((await dispatch(dispatcher, message('evt-1'))).kind).toBe('duplicate');
  });
});
