import { Hono, type Context } from 'hono';
import { OPS_HTML } from './page/html.js';
import { OPS_JS } from './page/script.js';
import { OPS_CSS, OPS_ICON } from './page/style.js';

/**
 * The page's policy: its own script and style only (no inline code, so an injected tag cannot run),
 * fetches to this origin only, never framed, no form posts, no base or plugin tricks.
 */
export const OPS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

function serve(c: Context, body: string, contentType: string): Response {
  c.header('Content-Type', contentType);
  c.header('Content-Security-Policy', OPS_CSP);
  c.header('X-Frame-Options', 'DENY');
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Referrer-Policy', 'no-referrer');
  c.header('Cross-Origin-Opener-Policy', 'same-origin');
  c.header('Cross-Origin-Resource-Policy', 'same-origin');
  // Small, and it must follow the server's version: revalidated each time.
  c.header('Cache-Control', 'no-cache');
  return c.body(body);
}

/** `GET /ops` and its assets: public static content (the data behind it is admin-only). */
export function opsPageRoutes() {
  const app = new Hono();
  app.get('/ops', (c) => serve(c, OPS_HTML, 'text/html; charset=utf-8'));
  app.get('/ops/app.js', (c) => serve(c, OPS_JS, 'text/javascript; charset=utf-8'));
  app.get('/ops/style.css', (c) => serve(c, OPS_CSS, 'text/css; charset=utf-8'));
  app.get('/ops/favicon.svg', (c) => serve(c, OPS_ICON, 'image/svg+xml'));
  return app;
}
