import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EXPIRY_TICK_MS, ExpiryWheel } from '../../src/realtime/expiry-wheel.js';

const T0 = Date.UTC(2026, 10, 25, 10, 0, 0); // a whole second
const sec = (ms: number) => Math.floor(ms / 1000);

/** A wheel on vitest's fake clock that records what expired, and when. */
function wheel() {
  const expired: Array<{ key: string; at: number; now: number }> = [];
  const errors: unknown[] = [];
  const w = new ExpiryWheel<string>({
    onExpire: (key, at) => expired.push({ key, at, now: Date.now() }),
    onError: (err) => errors.push(err),
  });
  return { w, expired, errors };
}

describe('ExpiryWheel', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires a key within one tick of its second, not before', () => {
    const { w, expired } = wheel();
    w.set('a', sec(T0) + 2);
    vi.advanceTimersByTime(1999);
    expect(expired).toHaveLength(0);
    vi.advanceTimersByTime(EXPIRY_TICK_MS + 1);
    expect(expired).toEqual([{ key: 'a', at: sec(T0) + 2, now: expect.any(Number) }]);
    expect(expired[0]!.now - (T0 + 2000)).toBeLessThanOrEqual(EXPIRY_TICK_MS);
    expect(w.size).toBe(0);
  });

  it('expires each key once, in order of their seconds', () => {
    const { w, expired } = wheel();
    w.set('late', sec(T0) + 3);
    w.set('early', sec(T0) + 1);
    w.set('middle', sec(T0) + 2);
    vi.advanceTimersByTime(5000);
    expect(expired.map((e) => e.key)).toEqual(['early', 'middle', 'late']);
  });

  it('moves a key when it is set again (a refreshed token), so the old second no longer ends it', () => {
    const { w, expired } = wheel();
    w.set('s', sec(T0) + 1);
    w.set('s', sec(T0) + 4);
    expect(w.size).toBe(1);
    expect(w.expiryOf('s')).toBe(sec(T0) + 4);
    vi.advanceTimersByTime(3500);
    expect(expired).toHaveLength(0);
    vi.advanceTimersByTime(1000);
    expect(expired.map((e) => e.key)).toEqual(['s']);
  });

  it('can move a key earlier', () => {
    const { w, expired } = wheel();
    w.set('s', sec(T0) + 60);
    w.set('s', sec(T0) + 1);
    vi.advanceTimersByTime(1300);
    expect(expired.map((e) => e.key)).toEqual(['s']);
  });

  it('forgets a deleted key (a socket that disconnected)', () => {
    const { w, expired } = wheel();
    w.set('gone', sec(T0) + 1);
    w.set('kept', sec(T0) + 1);
    expect(w.delete('gone')).toBe(true);
    expect(w.delete('gone')).toBe(false);
    vi.advanceTimersByTime(2000);
    expect(expired.map((e) => e.key)).toEqual(['kept']);
  });

  it('expires a key whose second is already past at the next tick', () => {
    const { w, expired } = wheel();
    vi.advanceTimersByTime(1600); // the wheel is idle: no interval yet
    w.set('overdue', sec(T0) - 10);
    vi.advanceTimersByTime(EXPIRY_TICK_MS);
    expect(expired.map((e) => e.key)).toEqual(['overdue']);
  });

  it('expires a key set for the current second after the last tick emptied it', () => {
    const { w, expired } = wheel();
    w.set('keepalive', sec(T0) + 100);
    vi.advanceTimersByTime(1300); // ticks ran during second T0+1
    w.set('now', sec(Date.now()));
    vi.advanceTimersByTime(EXPIRY_TICK_MS);
    expect(expired.map((e) => e.key)).toEqual(['now']);
  });

  it('runs one interval only while something is scheduled', () => {
    const { w } = wheel();
    expect(w.running).toBe(false);
    for (let i = 0; i < 1000; i++) w.set(`k${i}`, sec(T0) + 1 + (i % 5));
    expect(w.running).toBe(true);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(6000);
    expect(w.size).toBe(0);
    expect(w.running).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('catches up after a stall longer than the number of buckets', () => {
    const { w, expired } = wheel();
    w.set('a', sec(T0) + 2);
    w.set('b', sec(T0) + 3600);
    w.set('c', sec(T0) + 7200);
    vi.setSystemTime(T0 + 4000 * 1000); // the clock jumps more than an hour; timers did not run
    w.tick();
    expect(expired.map((e) => e.key)).toEqual(['a', 'b']);
    expect(w.size).toBe(1);
  });

  it('keeps going when a callback throws, and reports the error', () => {
    const errors: unknown[] = [];
    const seen: string[] = [];
    const w = new ExpiryWheel<string>({
      onExpire: (key) => {
        seen.push(key);
        if (key === 'bad') throw new Error('boom');
      },
      onError: (err) => errors.push(err),
    });
    w.set('bad', sec(T0) + 1);
    w.set('good', sec(T0) + 1);
    vi.advanceTimersByTime(1500);
    expect(seen.sort()).toEqual(['bad', 'good']);
    expect(errors).toHaveLength(1);
  });

  it('lets a callback schedule or remove keys during a tick', () => {
    const expired: string[] = [];
    const w: ExpiryWheel<string> = new ExpiryWheel<string>({
      onExpire: (key) => {
        expired.push(key);
        if (key === 'first') {
          w.delete('second');
          w.set('again', sec(Date.now()));
        }
      },
      onError: () => undefined,
    });
    w.set('first', sec(T0) + 1);
    w.set('second', sec(T0) + 1);
    vi.advanceTimersByTime(1000 + 2 * EXPIRY_TICK_MS);
    expect(expired).toEqual(['first', 'again']);
  });

  it('close() clears the interval, forgets every key and ignores later ones', () => {
    const { w, expired } = wheel();
    w.set('a', sec(T0) + 1);
    w.close();
    w.close();
    expect(w.running).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    w.set('b', sec(T0) + 1);
    vi.advanceTimersByTime(3000);
    expect(expired).toHaveLength(0);
    expect(w.size).toBe(0);
  });

  it('holds a hundred thousand keys with constant-time moves and one timer', () => {
    const { w } = wheel();
    const started = performance.now();
    for (let i = 0; i < 100_000; i++) w.set(`s${i}`, sec(T0) + 60 + (i % 600));
    for (let i = 0; i < 100_000; i += 2) w.set(`s${i}`, sec(T0) + 3600);
    for (let i = 1; i < 100_000; i += 2) w.delete(`s${i}`);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(w.size).toBe(50_000);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('refuses a tick that is not a positive number', () => {
    expect(() => new ExpiryWheel({ onExpire: () => undefined, onError: () => undefined, tickMs: 0 })).toThrow(/tickMs/);
  });
});
