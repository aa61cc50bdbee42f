import { z } from 'zod';
import { DEFAULT_PENDING_LIMITS } from './realtime/outgoing.js';
import { parseTrustProxy, type ProxyRange } from './auth/client-address.js';
import { DEFAULT_SOCKET_LIMITS } from './realtime/socket-limits.js';

/** The development-only HS256 key used when `JWT_SECRET` is unset outside production. */
export const DEV_JWT_SECRET = 'group-planner-dev-secret-do-not-use-in-production';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = z.coerce.number().int().positive();

const urlList = z
  .string()
  .transform((s) => s.split(',').map((u) => u.trim()).filter(Boolean))
  .pipe(z.array(z.url()).min(1));

const proxyList = z.string().transform((list, ctx): ProxyRange[] => {
  try {
    return parseTrustProxy(list);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** One schema over `process.env`; each key is documented in docs/configuration.md. */
const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000).describe('HTTP + Socket.IO port'),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  FRONTEND_URLS: urlList.default(['http://localhost:3000', 'http://localhost:5173']).describe('CORS allow-list'),
  JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional().describe('HS256 key'),
  JWT_JWKS_URL: z.url().optional().describe('RS256/ES256 keys from a JWKS endpoint'),
  JWT_ISSUER: z.string().min(1).default('group-planner-api'),
  JWT_AUDIENCE: z.string().min(1).default('group-planner-client'),
  JWT_COOKIE_NAME: z.string().min(1).default('access_token'),
  AMQP_URL: z
    .string()
    .regex(/^amqps?:\/\//, 'must start with amqp:// or amqps://')
    .default('amqp://guest:guest@127.0.0.1:5672'),
  AMQP_EXCHANGE: z.string().min(1).max(255).default('group-planner.events'),
  AMQP_QUEUE: z.string().min(1).max(200).default('realtime-bridge'),
  AMQP_PREFETCH: positiveInt.max(65535).default(200).describe('consumer prefetch'),
  REDIS_URL: z.url().optional(),
  HISTORY_SIZE: positiveInt.max(10_000).default(100),
  HISTORY_TTL_SECONDS: positiveInt.default(300),
  HISTORY_MAX_BYTES: positiveInt
    .min(1024)
    .max(2 ** 30)
    .default(1024 * 1024)
    .describe('bytes of history kept per stream (trip or user), beside HISTORY_SIZE; the oldest entries go first'),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  ENABLE_TEST_ENDPOINTS: bool.optional(),
  MAX_SOCKETS_PER_USER: positiveInt.max(100_000).default(DEFAULT_SOCKET_LIMITS.socketsPerUser).describe('sockets one user may hold on one instance'),
  MAX_PENDING_BYTES_PER_SOCKET: positiveInt
    .default(DEFAULT_PENDING_LIMITS.bytes)
    .describe('outgoing bytes one socket may have waiting before it is disconnected (slow_consumer)'),
  HANDSHAKES_PER_ADDRESS: positiveInt.default(DEFAULT_SOCKET_LIMITS.handshakesPerAddress.points).describe('handshakes per client address per 5 s'),
  TRUST_PROXY: proxyList
    .default([])
    .describe('comma-separated addresses or CIDR blocks of trusted proxies, whose X-Forwarded-For names the client'),
});

/** Every variable the service reads (docs/configuration.md has a row for each). */
export const ENV_VARIABLES = Object.keys(EnvSchema.shape) as Array<keyof typeof EnvSchema.shape>;

export type Config = Omit<z.infer<typeof EnvSchema>, 'ENABLE_TEST_ENDPOINTS' | 'JWT_SECRET'> & {
  JWT_SECRET: string | undefined;
  ENABLE_TEST_ENDPOINTS: boolean;
  /** True when no key was configured and the development secret is in use. */
  usingDevSecret: boolean;
};

/** A configuration error, whose message is the one line start-up prints. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses and checks the environment once; throws a ConfigError naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "unset", as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? 'environment');
    throw new ConfigError(`invalid configuration: ${name}: ${issue?.message ?? 'invalid'}`);
  }
  const c = parsed.data;
  const production = c.NODE_ENV === 'production';
  if (production && !c.JWT_SECRET && !c.JWT_JWKS_URL) {
    throw new ConfigError('invalid configuration: JWT_SECRET: required in production (or set JWT_JWKS_URL)');
  }
  const usingDevSecret = !c.JWT_SECRET && !c.JWT_JWKS_URL;
  return {
    ...c,
    JWT_SECRET: c.JWT_SECRET ?? (usingDevSecret ? DEV_JWT_SECRET : undefined),
    ENABLE_TEST_ENDPOINTS: production ? false : (c.ENABLE_TEST_ENDPOINTS ?? true),
    usingDevSecret,
  };
}

/** `AMQP_URL` with its password hidden, for logs and error lines. */
export function redactUrl(url: string): string {
  try {
    // Parsed as the AMQP client parses it, so a password holding '@' is hidden whole.
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return url.replace(/\/\/.*@/, '//***@');
  }
}
