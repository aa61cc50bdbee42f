import { Hono, type Context } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { OPS_HTML } from './page/html.js';
import { OPS_JS } from './page/script.js';
import { OPS_CSS, OPS_ICON } from './page/style.js';

const SELF = ["'self'"];
const NONE = ["'none'"];

/**
 * The page's headers: its own script and style only (no inline code, so an injected tag cannot run),
 * fetches to this origin only, never framed, no form posts, no base or plugin tricks.
 */
const pageHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: SELF,
    scriptSrc: SELF,
    styleSrc: SELF,
    imgSrc: SELF,
    connectSrc: SELF,
    baseUri: NONE,
    formAction: NONE,
    frameAncestors: NONE,
    objectSrc: NONE,
  },
  xFrameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
  crossOriginOpenerPolicy: 'same-origin',
  crossOriginResourcePolicy: 'same-origin',
  // Whether the whole host is HTTPS-only is the deployment's decision, not this page's.
  strictTransportSecurity: false,
});

function serve(c: Context, body: string, contentType: string): Response {
  c.header('Content-Type', contentType);
  // Small, and it must follow the server's version: revalidated each time.
  c.header('Cache-Control', 'no-cache');
  return c.body(body);
}

/** `GET /ops` and its assets: public static content (the data behind it is admin-only). */
export function opsPageRoutes() {
  const app = new Hono();
  for (const path of ['/ops', '/ops/*']) app.use(path, pageHeaders);
  app.get('/ops', (c) => serve(c, OPS_HTML, 'text/html; charset=utf-8'));
  app.get('/ops/app.js', (c) => serve(c, OPS_JS, 'text/javascript; charset=utf-8'));
  app.get('/ops/style.css', (c) => serve(c, OPS_CSS, 'text/css; charset=utf-8'));
  app.get('/ops/favicon.svg', (c) => serve(c, OPS_ICON, 'image/svg+xml'));
  return app;
}
