import { ConfigError, loadConfig, type Config } from '../config.js';
import { UsageError } from './command.js';

/**
 * The service's configuration, parsed by the service's own schema (same defaults, same checks) from
 * only the variables a command uses: a bad variable that the command never reads does not stop it,
 * and `publish` runs in production without the service's JWT key.
 */
export function configFrom<K extends keyof Config>(env: Record<string, string | undefined>, names: readonly K[]): Pick<Config, K | 'usingDevSecret'> {
  const subset = Object.fromEntries(names.map((name) => [name, env[name]]));
  try {
    return loadConfig(subset);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/** The variables that name the broker, the exchange and the bridge's queue. */
export const BROKER_VARIABLES = ['AMQP_URL', 'AMQP_EXCHANGE', 'AMQP_QUEUE'] as const;
