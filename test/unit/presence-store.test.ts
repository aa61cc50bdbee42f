import { describe, expect, it } from 'vitest';
import { MemoryPresenceStore } from '../../src/state/presence-store.js';

describe('MemoryPresenceStore', () => {
  it('counts a user once however many sockets they have in a room, first in and last out', async () => {
    const store = new MemoryPresenceStore();
    const ana = { userId: 'ana', name: 'Ana' };
    expect(await store.enter('trip:a', 's1', ana)).toEqual({ first: true, users: [ana], departed: [] });
    expect(await store.enter('trip:a', 's2', ana)).toEqual({ first: false, users: [ana], departed: [] });
    // Entering twice with one socket changes nothing.
    expect(await store.enter('trip:a', 's2', ana)).toEqual({ first: false, users: [ana], departed: [] });
    expect(await store.enter('trip:a', 's3', { userId: 'ben' })).toEqual({ first: true, users: [ana, { userId: 'ben' }], departed: [] });
    expect(await store.leave('trip:a', 's1')).toEqual({ userId: 'ana', last: false, departed: [] });
    expect(await store.leave('trip:a', 's2')).toEqual({ userId: 'ana', last: true, departed: [] });
    expect(await store.leave('trip:a', 's2')).toEqual({ last: false, departed: [] });
    expect(await store.leave('trip:b', 's3')).toEqual({ last: false, departed: [] });
    expect((await store.enter('trip:a', 's3', { userId: 'ben' })).users).toEqual([{ userId: 'ben' }]);
  });
});
