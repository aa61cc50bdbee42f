import { describe, expect, it } from 'vitest';
import { MemoryPresenceStore } from '../../src/state/presence-store.js';

describe('MemoryPresenceStore', () => {
  it('counts a user once however many sockets they have in a room, first in and last out', async () => {
    const store = new MemoryPresenceStore();
    expect(await store.enter('trip:a', 's1', { userId: 'ana', name: 'Ana' })).toEqual({ first: true, departed: [] });
    expect(await store.enter('trip:a', 's2', { userId: 'ana', name: 'Ana' })).toEqual({ first: false, departed: [] });
    // Entering twice with one socket changes nothing.
    expect(await store.enter('trip:a', 's2', { userId: 'ana', name: 'Ana' })).toEqual({ first: false, departed: [] });
    expect(await store.enter('trip:a', 's3', { userId: 'ben' })).toMatchObject({ first: true });
    expect((await store.list('trip:a')).users).toEqual([{ userId: 'ana', name: 'Ana' }, { userId: 'ben' }]);
    expect(await store.leave('trip:a', 's1')).toEqual({ userId: 'ana', last: false, departed: [] });
    expect(await store.leave('trip:a', 's2')).toEqual({ userId: 'ana', last: true, departed: [] });
    expect(await store.leave('trip:a', 's2')).toEqual({ last: false, departed: [] });
    expect(await store.leave('trip:b', 's3')).toEqual({ last: false, departed: [] });
    expect((await store.list('trip:a')).users).toEqual([{ userId: 'ben' }]);
  });
});
