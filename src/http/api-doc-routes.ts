import { Hono } from 'hono';
import type { ApiDocuments } from '../api-docs/index.js';

/** `/asyncapi.json` and `/openapi.json`: public, like the contract they describe. */
export function apiDocRoutes(documents: () => ApiDocuments) {
  const app = new Hono();
  app.get('/asyncapi.json', (c) => c.json(documents().asyncApi));
  app.get('/openapi.json', (c) => c.json(documents().openApi));
  return app;
}
