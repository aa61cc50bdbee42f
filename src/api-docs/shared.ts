/** The contract's version, as the routes' `/api/v1` says. */
export const API_VERSION = '1.0.0';

/** A JSON Reference into the document: `ref('components', 'messages', 'x')` → `#/components/messages/x`. */
export const ref = (...path: string[]) => ({ $ref: `#/${path.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}` });

/** An event name as a document key (keys allow letters, digits, `.`, `-` and `_`): `trip:join` → `trip.join`. */
export const keyOf = (name: string) => name.replaceAll(':', '.');
