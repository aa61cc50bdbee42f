import type { Rng } from '../../chaos/rng.js';
import { amqpSurface } from './amqp.js';
import { clientEventsSurface } from './client-events.js';
import { engineIoSurface } from './engine-io.js';
import { handshakeSurface } from './handshake.js';
import { httpSurface } from './http.js';
import { pollingSurface } from './polling.js';
import type { Surface } from './types.js';

export const ALL_SURFACES: readonly Surface[] = [engineIoSurface, pollingSurface, handshakeSurface, clientEventsSurface, httpSurface, amqpSurface];

/** Draws a surface by weight. */
export function pickSurface(rng: Rng, surfaces: readonly Surface[] = ALL_SURFACES): Surface {
  const total = surfaces.reduce((sum, s) => sum + s.weight, 0);
  let roll = rng.next() * total;
  for (const surface of surfaces) {
    roll -= surface.weight;
    if (roll < 0) return surface;
  }
  return surfaces[surfaces.length - 1]!;
}
