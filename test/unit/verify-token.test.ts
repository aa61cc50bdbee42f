import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from 'jose';
import { createTokenVerifier, TokenError, type VerifyToken } from '../../src/auth/verify-token.js';
import { signToken, TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from '../helpers/tokens.js';

const claimsOptions = { issuer: TEST_ISSUER, audience: TEST_AUDIENCE };
const hsVerifier = createTokenVerifier({ secret: TEST_SECRET, ...claimsOptions });

/** The TokenError a refused token rejects with (fails the test if it is accepted or fails otherwise). */
async function refusal(verify: VerifyToken, token: string): Promise<TokenError> {
  const error = await verify(token).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(TokenError);
  return error as TokenError;
}

/** A token signed with an asymmetric private key, with the verifier's issuer and audience. */
function signWith(key: CryptoKey, alg: string, kid: string, claims: Record<string, unknown> = { sub: 'user-1' }) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg, kid })
    .setIssuer(TEST_ISSUER)
    .setAudience(TEST_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(key);
}

describe('createTokenVerifier with an HS256 secret', () => {
  it('returns the claims of a valid token', async () => {
    const token = await signToken({ sub: 'user-1', role: 'admin', name: 'Ana', trips: ['trip-1', 'trip-2'] });
    const claims = await hsVerifier(token);
    expect(claims).toMatchObject({ sub: 'user-1', role: 'admin', name: 'Ana', trips: ['trip-1', 'trip-2'] });
    expect(claims.exp).toBeGreaterThan(Date.now() / 1000);
    expect(typeof claims.iat).toBe('number');
  });

  it('refuses an expired token with token_expired', async () => {
    const token = await signToken({ sub: 'user-1' }, { expiresIn: -60 });
    expect((await refusal(hsVerifier, token)).code).toBe('token_expired');
  });

  it.each([
    ['signed with another secret', () => signToken({ sub: 'u' }, { secret: 'another-secret-of-enough-length' })],
    ['from another issuer', () => signToken({ sub: 'u' }, { issuer: 'someone-else' })],
    ['for another audience', () => signToken({ sub: 'u' }, { audience: 'someone-else' })],
    ['with an invalid sub', () => signToken({ sub: 'not a valid id' })],
    ['with trips that are not an array', () => signToken({ sub: 'u', trips: 'trip-1' as unknown as string[] })],
    ['with an invalid trip id', () => signToken({ sub: 'u', trips: ['ok', 'not ok'] })],
    ['with an unknown role', () => signToken({ sub: 'u', role: 'root' as unknown as 'admin' })],
    ['that is a garbage string', async () => 'not-a-jwt'],
    ['that is empty', async () => ''],
    ['whose signature was altered', async () => `${(await signToken({ sub: 'u' })).slice(0, -4)}AAAA`],
  ])('refuses a token %s with token_invalid', async (_what, make) => {
    expect((await refusal(hsVerifier, await make())).code).toBe('token_invalid');
  });

  it('refuses a token without sub with token_invalid', async () => {
    const token = await new SignJWT({ role: 'user' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(TEST_ISSUER)
      .setAudience(TEST_AUDIENCE)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_SECRET));
    expect((await refusal(hsVerifier, token)).code).toBe('token_invalid');
  });

  it('refuses a token without exp with token_invalid', async () => {
    const token = await new SignJWT({ sub: 'user-1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(TEST_ISSUER)
      .setAudience(TEST_AUDIENCE)
      .sign(new TextEncoder().encode(TEST_SECRET));
    expect((await refusal(hsVerifier, token)).code).toBe('token_invalid');
  });

  it('refuses an unsigned alg none token with token_invalid', async () => {
    const token = new UnsecuredJWT({ sub: 'user-1', role: 'admin' })
      .setIssuer(TEST_ISSUER)
      .setAudience(TEST_AUDIENCE)
      .setExpirationTime('1h')
      .encode();
    expect((await refusal(hsVerifier, token)).code).toBe('token_invalid');
  });

  it('refuses an HS512 token signed with the same secret (only HS256 is configured)', async () => {
    const token = await new SignJWT({ sub: 'user-1' })
      .setProtectedHeader({ alg: 'HS512' })
      .setIssuer(TEST_ISSUER)
      .setAudience(TEST_AUDIENCE)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_SECRET));
    expect((await refusal(hsVerifier, token)).code).toBe('token_invalid');
  });

  it('refuses an RS256 token when no JWKS is configured, with token_invalid', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await signWith(privateKey, 'RS256', 'k1');
    expect((await refusal(hsVerifier, token)).code).toBe('token_invalid');
  });
});

describe('createTokenVerifier with a JWKS endpoint', () => {
  let server: Server;
  let jwksUrl: string;
  let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
  let ec: { privateKey: CryptoKey; publicKey: CryptoKey };
  let rsa384: { privateKey: CryptoKey; publicKey: CryptoKey };
  let requests = 0;

  beforeAll(async () => {
    rsa = await generateKeyPair('RS256');
    ec = await generateKeyPair('ES256');
    rsa384 = await generateKeyPair('RS384');
    const keys: JWK[] = [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', use: 'sig' },
      { ...(await exportJWK(rsa384.publicKey)), kid: 'rsa-384', use: 'sig' },
    ];
    // The one network use of the unit layer: a loopback JWKS endpoint on an ephemeral port.
    server = createServer((_req, res) => {
      requests += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('verifies an RS256 token against the JWKS keys', async () => {
    const verify = createTokenVerifier({ jwksUrl, ...claimsOptions });
    const claims = await verify(await signWith(rsa.privateKey, 'RS256', 'rsa-1', { sub: 'user-9', trips: ['t1'] }));
    expect(claims).toMatchObject({ sub: 'user-9', trips: ['t1'] });
    expect(requests).toBeGreaterThan(0);
  });

  it('verifies an ES256 token against the JWKS keys', async () => {
    const verify = createTokenVerifier({ jwksUrl, ...claimsOptions });
    expect((await verify(await signWith(ec.privateKey, 'ES256', 'ec-1'))).sub).toBe('user-1');
  });

  it('still verifies HS256 tokens with the secret when both are configured', async () => {
    const verify = createTokenVerifier({ secret: TEST_SECRET, jwksUrl, ...claimsOptions });
    expect((await verify(await signToken({ sub: 'user-2' }))).sub).toBe('user-2');
    expect((await verify(await signWith(rsa.privateKey, 'RS256', 'rsa-1'))).sub).toBe('user-1');
  });

  it('refuses an HS256 token when only a JWKS is configured', async () => {
    const verify = createTokenVerifier({ jwksUrl, ...claimsOptions });
    expect((await refusal(verify, await signToken({ sub: 'user-1' }))).code).toBe('token_invalid');
  });

  it('refuses an RS256 token signed by a key that is not in the JWKS', async () => {
    const verify = createTokenVerifier({ jwksUrl, ...claimsOptions });
    const stranger = await generateKeyPair('RS256');
    expect((await refusal(verify, await signWith(stranger.privateKey, 'RS256', 'rsa-1'))).code).toBe('token_invalid');
  });

  it('refuses an RS384 token whose key is in the JWKS (an algorithm that is not configured)', async () => {
    const verify = createTokenVerifier({ jwksUrl, ...claimsOptions });
    expect((await refusal(verify, await signWith(rsa384.privateKey, 'RS384', 'rsa-384'))).code).toBe('token_invalid');
  });

  it('refuses an expired RS256 token with token_expired', async () => {
    const verify = createTokenVerifier({ jwksUrl, ...claimsOptions });
    const token = await new SignJWT({ sub: 'user-1' })
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
      .setIssuer(TEST_ISSUER)
      .setAudience(TEST_AUDIENCE)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(rsa.privateKey);
    expect((await refusal(verify, token)).code).toBe('token_expired');
  });

  it('refuses algorithm confusion: an HS256 token keyed with the RSA public key PEM', async () => {
    const verify = createTokenVerifier({ secret: TEST_SECRET, jwksUrl, ...claimsOptions });
    const pem = await exportSPKI(rsa.publicKey);
    const forged = await new SignJWT({ sub: 'attacker', role: 'admin' })
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
      .setIssuer(TEST_ISSUER)
      .setAudience(TEST_AUDIENCE)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(pem));
    expect((await refusal(verify, forged)).code).toBe('token_invalid');
  });

  it('refuses an alg none token when a JWKS is configured', async () => {
    const verify = createTokenVerifier({ secret: TEST_SECRET, jwksUrl, ...claimsOptions });
    const token = new UnsecuredJWT({ sub: 'user-1' })
      .setIssuer(TEST_ISSUER)
      .setAudience(TEST_AUDIENCE)
      .setExpirationTime('1h')
      .encode();
    expect((await refusal(verify, token)).code).toBe('token_invalid');
  });
});
