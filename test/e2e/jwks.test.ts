import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, startTestBridge, type TestBridge } from '../helpers/bridge.js';
import { connectClient, connectError, createClient, type TestSocket } from '../helpers/client.js';
import { signToken, TEST_AUDIENCE, TEST_ISSUER } from '../helpers/tokens.js';

/** Short, so that the rotation test need not wait jose's default 30 s before refetching. */
const JWKS_COOLDOWN_MS = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function es256Token(key: CryptoKey, kid: string, sub: string) {
  return new SignJWT({ sub, role: 'user' })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(TEST_ISSUER)
    .setAudience(TEST_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(key);
}

describe.skipIf(!amqpUrl)('keys from JWT_JWKS_URL beside JWT_SECRET, at the socket handshake', () => {
  let jwks: Server;
  let keys: JWK[] = [];
  let fetches = 0;
  let t: TestBridge;
  let first: { privateKey: CryptoKey; publicKey: CryptoKey };
  let rotated: { privateKey: CryptoKey; publicKey: CryptoKey };
  const sockets: TestSocket[] = [];
  const refusedWith = async (token: string) => {
    const socket = createClient(t.url, { auth: { token } });
    sockets.push(socket);
    return (await connectError(socket)).data?.code;
  };

  beforeAll(async () => {
    first = await generateKeyPair('ES256');
    rotated = await generateKeyPair('ES256');
    keys = [{ ...(await exportJWK(first.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' }];
    jwks = createServer((_req, res) => {
      fetches += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    t = await startTestBridge({ JWT_JWKS_URL: url }, { jwksCooldownMs: JWKS_COOLDOWN_MS });
  });

  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await t?.stop();
    jwks?.closeAllConnections();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  it('accepts an ES256 token whose key is in the JWKS, and still an HS256 token signed with the secret', async () => {
    const { socket, connected } = await connectClient(t.url, await es256Token(first.privateKey, 'ec-1', 'jwks-user'));
    sockets.push(socket);
    expect(connected.userId).toBe('jwks-user');
    expect(fetches).toBeGreaterThan(0);
    const hs = await connectClient(t.url, await signToken({ sub: 'secret-user' }));
    sockets.push(hs.socket);
    expect(hs.connected.userId).toBe('secret-user');
  });

  it('accepts a token signed with a rotated key once the JWKS publishes its new kid, and drops the retired one', async () => {
    keys = [{ ...(await exportJWK(rotated.publicKey)), kid: 'ec-2', alg: 'ES256', use: 'sig' }];
    const before = fetches;
    await sleep(JWKS_COOLDOWN_MS + 50);
    const { socket, connected } = await connectClient(t.url, await es256Token(rotated.privateKey, 'ec-2', 'rotated-user'));
    sockets.push(socket);
    expect(connected.userId).toBe('rotated-user');
    expect(fetches).toBe(before + 1);
    // The retired key is gone from the fetched set: its tokens no longer verify.
    expect(await refusedWith(await es256Token(first.privateKey, 'ec-1', 'jwks-user'))).toBe('token_invalid');
  });

  it('refuses algorithm confusion: an HS256 token keyed with the published public key', async () => {
    const pem = await exportSPKI(rotated.publicKey);
    const jwkText = JSON.stringify(keys[0]);
    for (const secret of [pem, jwkText]) {
      const forged = await new SignJWT({ sub: 'attacker', role: 'admin' })
        .setProtectedHeader({ alg: 'HS256', kid: 'ec-2' })
        .setIssuer(TEST_ISSUER)
        .setAudience(TEST_AUDIENCE)
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(secret));
      expect(await refusedWith(forged)).toBe('token_invalid');
    }
  });
});
