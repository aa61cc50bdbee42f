import { describe, expect, it } from 'vitest';
import { originMatchesHost } from '../../src/auth/same-origin.js';

describe('originMatchesHost', () => {
  it.each([
    ['http://localhost:3000', 'localhost:3000'],
    ['https://bridge.example', 'bridge.example'],
    ['http://bridge.example', 'bridge.example'],
    ['https://bridge.example', 'bridge.example:443'],
    ['http://Bridge.Example:8080', 'BRIDGE.example:8080'],
    ['http://[::1]:3000', '[::1]:3000'],
    ['http://127.0.0.1:3000', '127.0.0.1:3000'],
  ])('%s is the server reached as Host %s', (origin, host) => {
    expect(originMatchesHost(origin, host)).toBe(true);
  });

  it.each([
    ['http://localhost:3001', 'localhost:3000'],
    ['http://localhost', 'localhost:3000'],
    ['http://localhost:3000', 'localhost'],
    ['https://bridge.example.evil.example', 'bridge.example'],
    ['https://evil.example', 'bridge.example'],
    ['null', 'bridge.example'],
    ['not a url', 'bridge.example'],
    ['file://bridge.example', 'bridge.example'],
    ['http://bridge.example', undefined],
    ['http://bridge.example', ''],
    ['http://bridge.example', 'bridge.example, evil.example'],
  ])('%s is not the server reached as Host %s', (origin, host) => {
    expect(originMatchesHost(origin, host)).toBe(false);
  });
});
