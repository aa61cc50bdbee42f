import { describe, expect, it } from 'vitest';
import { KeyedLock } from '../../src/state/keyed-lock.js';

describe('KeyedLock', () => {
  it('runs a task whose key is free at once, and gives its answer without a promise', () => {
    const lock = new KeyedLock();
    const ran: string[] = [];
    expect(lock.run('trip:a', () => (ran.push('a'), 1))).toBe(1);
    expect(lock.run('trip:a', () => (ran.push('b'), 2))).toBe(2);
    expect(ran).toEqual(['a', 'b']);
  });

  it('throws at once what a task run at once throws, and leaves the key free', () => {
    const lock = new KeyedLock();
    expect(() =>
      lock.run('trip:a', () => {
        throw new Error('refused');
      }),
    ).toThrow('refused');
    expect(lock.run('trip:a', () => 'next')).toBe('next');
  });

  it('holds the key while a task answers later: later tasks of that key wait, in call order, others do not', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    let release: () => void = () => undefined;
    const slow = lock.run('trip:a', () => new Promise<string>((resolve) => (release = () => resolve('slow'))));
    const queued = lock.run('trip:a', () => (order.push('a2'), 'a2'));
    const queuedToo = lock.run('trip:a', async () => (order.push('a3'), 'a3'));
    // Another key is free: at once, while trip:a waits.
    expect(lock.run('trip:b', () => (order.push('b1'), 'b1'))).toBe('b1');
    expect(queued).toBeInstanceOf(Promise);
    expect(order).toEqual(['b1']);
    release();
    expect(await Promise.all([slow, queued, queuedToo])).toEqual(['slow', 'a2', 'a3']);
    expect(order).toEqual(['b1', 'a2', 'a3']);
    // Once everything settled, the key is free again.
    await new Promise((resolve) => setImmediate(resolve));
    expect(lock.run('trip:a', () => 'free')).toBe('free');
  });

  it('goes on after a task that fails later: the next one runs, and the failure reaches its caller only', async () => {
    const lock = new KeyedLock();
    const failing = lock.run('trip:a', async () => {
      throw new Error('store down');
    });
    const next = lock.run('trip:a', () => 'after');
    await expect(failing).rejects.toThrow('store down');
    expect(await next).toBe('after');
  });
});
