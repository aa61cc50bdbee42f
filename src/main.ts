import { createBridge } from './bridge.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

/** The process entry: configuration, logger, one bridge, and the signals that stop it. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.LOG_LEVEL);
  if (config.usingDevSecret) {
    logger.warn({ event: 'config.dev_secret' }, 'JWT_SECRET is unset: using the development-only secret');
  }

  process.on('unhandledRejection', (reason) => {
    logger.error({ event: 'process.unhandled_rejection', err: reason }, 'unhandled promise rejection');
  });

  const bridge = createBridge(config, logger);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: 'process.signal', signal }, 'shutting down');
    setTimeout(() => {
      logger.error({ event: 'process.shutdown_timeout', timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS).unref();
    bridge.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ event: 'process.shutdown_failed', err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  try {
    await bridge.start();
  } catch (err) {
    // Nothing was consumed yet, so there is nothing to drain.
    logger.fatal({ event: 'bridge.start_failed' }, (err as Error).message);
    process.exit(1);
  }
}

await main();
