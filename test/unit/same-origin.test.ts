import { describe, expect, it } from 'vitest';
import { namesServerItself } from '../../src/auth/same-origin.js';

type Case = [origin: string, host: string | undefined];

describe('namesServerItself', () => {
  it.each<Case>([
    ['http://127.0.0.1:3000', '127.0.0.1:3000'],
    ['ws://127.0.0.1:3000', '127.0.0.1:3000'],
    ['https://realtime.example.com', 'realtime.example.com'],
    ['wss://realtime.example.com', 'realtime.example.com'],
    // What python websocket-client sends for wss://realtime.example.com: http, and no port.
    ['http://realtime.example.com', 'realtime.example.com'],
    ['https://realtime.example.com:443', 'realtime.example.com'],
    ['https://realtime.example.com', 'realtime.example.com:443'],
    ['http://realtime.example.com', 'realtime.example.com:80'],
    ['wss://realtime.example.com:8443', 'realtime.example.com:8443'],
    ['HTTPS://Realtime.EXAMPLE.com', 'realtime.example.COM'],
    ['http://[::1]:3000', '[::1]:3000'],
    ['http://[0:0:0:0:0:0:0:1]:3000', '[::1]:3000'],
    ['http://[::FFFF:7F00:1]:3000', '[::ffff:127.0.0.1]:3000'],
  ])('accepts %s reaching Host %s', (origin, host) => {
    expect(namesServerItself(origin, host)).toBe(true);
  });

  it.each<Case>([
    // Another server, or no server named.
    ['https://evil.example', 'realtime.example.com'],
    ['null', 'realtime.example.com'],
    ['', 'realtime.example.com'],
    ['http://realtime.example.com', undefined],
    ['http://realtime.example.com', ''],
    // The host matches, the port does not.
    ['http://127.0.0.1:3001', '127.0.0.1:3000'],
    ['http://127.0.0.1', '127.0.0.1:3000'],
    ['http://realtime.example.com:443', 'realtime.example.com'],
    ['https://realtime.example.com', 'realtime.example.com:80'],
    ['http://realtime.example.com:8080', 'realtime.example.com'],
    // The port matches, the host does not (a suffix or a prefix is another host).
    ['http://evil.example:3000', '127.0.0.1:3000'],
    ['http://realtime.example.com.evil.example', 'realtime.example.com'],
    ['http://example.com', 'realtime.example.com'],
    ['http://[::2]:3000', '[::1]:3000'],
    // Userinfo, on either side, names no place of its own.
    ['http://realtime.example.com@evil.example', 'evil.example'],
    ['http://user@realtime.example.com', 'realtime.example.com'],
    ['http://evil.example', 'realtime.example.com@evil.example'],
    // An Origin has no path, query or fragment, nor a second value (duplicate headers are joined by a comma).
    ['http://realtime.example.com/', 'realtime.example.com'],
    ['http://realtime.example.com/path', 'realtime.example.com'],
    ['http://realtime.example.com?x', 'realtime.example.com'],
    ['http://realtime.example.com#x', 'realtime.example.com'],
    ['http://realtime.example.com\\evil.example', 'realtime.example.com'],
    ['http://127.0.0.1:3000, https://evil.example', '127.0.0.1:3000'],
    ['http://127.0.0.1:3000', '127.0.0.1:3000/evil'],
    ['http://127.0.0.1:3000', '127.0.0.1:3000, evil.example'],
    // Schemes other than HTTP and WebSocket, whitespace, empty or impossible ports.
    ['file://realtime.example.com', 'realtime.example.com'],
    ['chrome-extension://realtime.example.com', 'realtime.example.com'],
    [' http://realtime.example.com', 'realtime.example.com'],
    ['http://realtime.example.com ', 'realtime.example.com'],
    ['http://realtime.example.com:', 'realtime.example.com'],
    ['http://realtime.example.com:99999', 'realtime.example.com:99999'],
    ['http://realtime.example.com', 'realtime.example.com:'],
    ['http://[::1:3000', '[::1:3000'],
  ])('refuses %s reaching Host %s', (origin, host) => {
    expect(namesServerItself(origin, host)).toBe(false);
  });
});
describe('namesServerItself, as the HTTP cross-site check uses it', () => {
  it.each([
    ['http://localhost:3000', 'localhost:3000'],
    ['https://bridge.example', 'bridge.example'],
    ['http://bridge.example', 'bridge.example'],
    ['https://bridge.example', 'bridge.example:443'],
    ['http://Bridge.Example:8080', 'BRIDGE.example:8080'],
    ['http://[::1]:3000', '[::1]:3000'],
    ['http://127.0.0.1:3000', '127.0.0.1:3000'],
  ])('%s is the server reached as Host %s', (origin, host) => {
    expect(namesServerItself(origin, host)).toBe(true);
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
    expect(namesServerItself(origin, host)).toBe(false);
  });
});
