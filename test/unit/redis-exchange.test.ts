import { describe, expect, it } from 'vitest';
import { redis } from '../../src/state/redis-scripts.js';
import { StoreUnavailableError } from '../../src/state/stores.js';

describe('redis(): one exchange with Redis', () => {
  it("makes any failure the store's, naming the exchange", async () => {
    const failure = redis('append', async () => {
      throw new Error('connection lost');
    });
    await expect(failure).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(failure).rejects.toThrow(/^redis append: connection lost$/);
  });

  it("passes the store's failure of an inner exchange as it is, not named twice", async () => {
    const inner = () =>
      redis('append', async () => {
        throw new Error('connection lost');
      });
    await expect(redis('append', inner)).rejects.toThrow(/^redis append: connection lost$/);
  });
});
