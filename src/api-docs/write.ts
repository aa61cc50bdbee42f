import { writeFileSync } from 'node:fs';
import { loadConfig } from '../config.js';
import { apiDocumentsFor, DOCUMENT_FILES, serializeDocument, type ApiDocuments } from './index.js';

/** `npm run docs:api` (from the repository's root): regenerates the committed documents from the contracts. */
const documents = apiDocumentsFor(loadConfig({}));
for (const key of Object.keys(DOCUMENT_FILES) as Array<keyof ApiDocuments>) {
  writeFileSync(DOCUMENT_FILES[key], serializeDocument(documents[key]));
  process.stdout.write(`wrote ${DOCUMENT_FILES[key]}\n`);
}
