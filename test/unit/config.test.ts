import { describe, it, expect } from 'vitest';
import { ConfigError, DEV_JWT_SECRET, loadConfig, redactUrl } from '../../src/config.js';

/** The ConfigError that loading `env` throws (fails the test when it loads or throws anything else). */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const PROD_SECRET = 'a-production-secret-of-some-length';

describe('loadConfig defaults (CONTRACT §1)', () => {
  const config = loadConfig({});

  it.each([
    ['PORT', 3000],
    ['NODE_ENV', 'development'],
    ['LOG_LEVEL', 'info'],
    ['FRONTEND_URLS', ['http://localhost:3000', 'http://localhost:5173']],
    ['JWT_ISSUER', 'group-planner-api'],
    ['JWT_AUDIENCE', 'group-planner-client'],
    ['JWT_COOKIE_NAME', 'access_token'],
    ['AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672'],
    ['AMQP_EXCHANGE', 'group-planner.events'],
    ['AMQP_QUEUE', 'realtime-bridge'],
    ['HISTORY_SIZE', 100],
    ['HISTORY_TTL_SECONDS', 300],
    ['HISTORY_MAX_BYTES', 1_048_576],
    ['SHUTDOWN_TIMEOUT_MS', 10_000],
    ['ENABLE_TEST_ENDPOINTS', true],
  ] as const)('%s defaults to %j', (name, value) => {
    expect(config[name]).toEqual(value);
  });

  it('leaves JWKS and Redis unset', () => {
    expect(config.JWT_JWKS_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
  });

  it('chooses a positive integer prefetch', () => {
    expect(Number.isInteger(config.AMQP_PREFETCH)).toBe(true);
    expect(config.AMQP_PREFETCH).toBeGreaterThan(0);
  });

  it('falls back to the development secret outside production, and says so', () => {
    expect(config.JWT_SECRET).toBe(DEV_JWT_SECRET);
    expect(config.usingDevSecret).toBe(true);
  });
});

describe('loadConfig parsing', () => {
  it('reads numbers, lists and booleans from strings', () => {
    const config = loadConfig({
      PORT: '8080',
      FRONTEND_URLS: 'https://app.example.com, https://admin.example.com',
      HISTORY_SIZE: '250',
      HISTORY_MAX_BYTES: '65536',
      ENABLE_TEST_ENDPOINTS: 'false',
      JWT_SECRET: PROD_SECRET,
    });
    expect(config.PORT).toBe(8080);
    expect(config.FRONTEND_URLS).toEqual(['https://app.example.com', 'https://admin.example.com']);
    expect(config.HISTORY_SIZE).toBe(250);
    expect(config.HISTORY_MAX_BYTES).toBe(65_536);
    expect(config.ENABLE_TEST_ENDPOINTS).toBe(false);
    expect(config.JWT_SECRET).toBe(PROD_SECRET);
    expect(config.usingDevSecret).toBe(false);
  });

  it('accepts PORT 0 (an ephemeral port for tests)', () => {
    expect(loadConfig({ PORT: '0' }).PORT).toBe(0);
  });

  it('does not fall back to the development secret when only a JWKS is configured', () => {
    const config = loadConfig({ JWT_JWKS_URL: 'https://auth.example.com/.well-known/jwks.json' });
    expect(config.JWT_SECRET).toBeUndefined();
    expect(config.usingDevSecret).toBe(false);
  });

  it('treats an empty string as unset', () => {
    const config = loadConfig({ PORT: '', AMQP_QUEUE: '', JWT_SECRET: '', FRONTEND_URLS: '' });
    expect(config.PORT).toBe(3000);
    expect(config.AMQP_QUEUE).toBe('realtime-bridge');
    expect(config.FRONTEND_URLS).toEqual(['http://localhost:3000', 'http://localhost:5173']);
    expect(config.usingDevSecret).toBe(true);
  });

  it('ignores variables it does not know', () => {
    expect(loadConfig({ HOME: '/root', PATH: '/usr/bin' }).PORT).toBe(3000);
  });
});

describe('loadConfig refuses bad values with one line naming the variable', () => {
  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['AMQP_URL', 'http://x'],
    ['FRONTEND_URLS', 'notaurl'],
    ['FRONTEND_URLS', 'http://localhost:3000,notaurl'],
    ['NODE_ENV', 'staging'],
    ['LOG_LEVEL', 'verbose'],
    ['JWT_SECRET', 'short'],
    ['JWT_JWKS_URL', 'not a url'],
    ['HISTORY_SIZE', '0'],
    ['HISTORY_TTL_SECONDS', '1.5'],
    ['HISTORY_MAX_BYTES', '0'],
    ['HISTORY_MAX_BYTES', '1023'],
    ['HISTORY_MAX_BYTES', '1.5'],
    ['HISTORY_MAX_BYTES', '1MiB'],
    ['HISTORY_MAX_BYTES', String(2 ** 30 + 1)],
    ['SHUTDOWN_TIMEOUT_MS', 'soon'],
    ['AMQP_PREFETCH', '0'],
    ['ENABLE_TEST_ENDPOINTS', 'maybe'],
    ['TRUST_PROXY', 'nginx'],
    ['TRUST_PROXY', '127.0.0.1, 10.0.0.0/33'],
    ['TRUST_PROXY', '10.0.0.1:80'],
  ])('%s=%s', (name, value) => {
    const err = configError({ [name]: value });
    expect(err.message).toContain(name);
    expect(err.message).not.toContain('\n');
  });
});

describe('TRUST_PROXY', () => {
  it('trusts no proxy by default', () => {
    expect(loadConfig({}).TRUST_PROXY).toEqual([]);
  });

  it('reads addresses and CIDR blocks of both families', () => {
    expect(loadConfig({ TRUST_PROXY: '127.0.0.1, 172.28.0.0/16, ::1' }).TRUST_PROXY).toEqual([
      { address: '127.0.0.1', prefix: 32, family: 'ipv4' },
      { address: '172.28.0.0', prefix: 16, family: 'ipv4' },
      { address: '::1', prefix: 128, family: 'ipv6' },
    ]);
  });

  it('names the bad entry in its one line', () => {
    expect(configError({ TRUST_PROXY: '127.0.0.1,nginx' }).message).toBe(
      'invalid configuration: TRUST_PROXY: "nginx" is not an IP address or CIDR block',
    );
  });
});

describe('loadConfig in production', () => {
  it('refuses to start without JWT_SECRET or JWT_JWKS_URL, naming JWT_SECRET', () => {
    expect(configError({ NODE_ENV: 'production' }).message).toContain('JWT_SECRET');
  });

  it('counts an empty JWT_SECRET as missing', () => {
    expect(configError({ NODE_ENV: 'production', JWT_SECRET: '' }).message).toContain('JWT_SECRET');
  });

  it('starts with a JWT_SECRET, or with a JWT_JWKS_URL alone', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: PROD_SECRET }).JWT_SECRET).toBe(PROD_SECRET);
    const jwksOnly = loadConfig({ NODE_ENV: 'production', JWT_JWKS_URL: 'https://auth.example.com/jwks.json' });
    expect(jwksOnly.JWT_SECRET).toBeUndefined();
    expect(jwksOnly.usingDevSecret).toBe(false);
  });

  it('disables the test endpoints by default and even when asked for them', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: PROD_SECRET }).ENABLE_TEST_ENDPOINTS).toBe(false);
    expect(
      loadConfig({ NODE_ENV: 'production', JWT_SECRET: PROD_SECRET, ENABLE_TEST_ENDPOINTS: 'true' }).ENABLE_TEST_ENDPOINTS,
    ).toBe(false);
  });

  it('keeps the test endpoints on by default in test', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).ENABLE_TEST_ENDPOINTS).toBe(true);
  });
});

describe('redactUrl', () => {
  it('hides the password and keeps the rest', () => {
    expect(redactUrl('amqp://guest:s3cret@rabbit.internal:5672/vhost')).toBe('amqp://guest:***@rabbit.internal:5672/vhost');
    expect(redactUrl('amqps://user:p%40ss@host')).toBe('amqps://user:***@host');
  });

  it('leaves a URL without credentials unchanged', () => {
    expect(redactUrl('amqp://127.0.0.1:5672')).toBe('amqp://127.0.0.1:5672');
  });

  it('never lets the password through', () => {
    for (const url of ['amqp://guest:guest@127.0.0.1:5672', 'amqp://a:topsecret@h/v?heartbeat=5']) {
      expect(redactUrl(url)).not.toMatch(/guest@|topsecret/);
    }
  });

  it('hides a password that contains a raw @, which the AMQP client reads up to the last @', () => {
    // new URL('amqp://user:p@ss@host') has password "p@ss"; rabbitmq-client connects with it.
    const redacted = redactUrl('amqp://user:p@ss@rabbit.internal:5672/v');
    expect(redacted).toBe('amqp://user:***@rabbit.internal:5672/v');
  });

  it('hides a password given without a user name', () => {
    expect(redactUrl('amqp://:topsecret@rabbit.internal:5672')).not.toContain('topsecret');
  });
});
