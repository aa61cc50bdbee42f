import type { Config } from '../config.js';
import { asyncApiDocument } from './asyncapi.js';
import { openApiDocument } from './openapi.js';

/** The two machine-readable descriptions of the bridge, as JSON values. */
export interface ApiDocuments {
  asyncApi: Record<string, unknown>;
  openApi: Record<string, unknown>;
}

/** `host:port` of a URL, without its credentials (the AMQP URL's password must not be published). */
const hostOf = (url: string) => {
  const { hostname, port } = new URL(url);
  return port ? `${hostname}:${port}` : hostname;
};

type DocumentedConfig = Pick<
  Config,
  'AMQP_URL' | 'AMQP_EXCHANGE' | 'AMQP_QUEUE' | 'PORT' | 'JWT_COOKIE_NAME' | 'ENABLE_TEST_ENDPOINTS'
>;

/** The documents of an instance with this configuration (the committed ones use the defaults). */
export function apiDocumentsFor(config: DocumentedConfig): ApiDocuments {
  return {
    asyncApi: asyncApiDocument({
      exchange: config.AMQP_EXCHANGE,
      queue: config.AMQP_QUEUE,
      amqpHost: hostOf(config.AMQP_URL),
      socketHost: `localhost:${config.PORT}`,
      cookieName: config.JWT_COOKIE_NAME,
    }),
    openApi: openApiDocument({ testEndpoints: config.ENABLE_TEST_ENDPOINTS, cookieName: config.JWT_COOKIE_NAME }),
  };
}

/**
 * The documents of this configuration, built on first request: building them (zod's JSON Schema
 * conversion) took 10–35 ms here, which start-up need not pay.
 */
export function lazyApiDocuments(config: DocumentedConfig): () => ApiDocuments {
  let documents: ApiDocuments | undefined;
  return () => (documents ??= apiDocumentsFor(config));
}

/** Where the repository keeps the documents of the default configuration, relative to its root. */
export const DOCUMENT_FILES: Record<keyof ApiDocuments, string> = {
  asyncApi: 'docs/asyncapi.json',
  openApi: 'docs/openapi.json',
};

/** A document as the repository keeps it: two-space JSON and a final newline. */
export const serializeDocument = (document: Record<string, unknown>) => `${JSON.stringify(document, null, 2)}\n`;
