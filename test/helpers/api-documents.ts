import { lazyApiDocuments } from '../../src/api-docs/index.js';
import { loadConfig } from '../../src/config.js';

/** The documents an instance with the default configuration serves (and that `docs/` holds). */
export const defaultApiDocuments = () => lazyApiDocuments(loadConfig({}));
