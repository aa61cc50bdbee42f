import { z } from 'zod';
import { Identifier } from './common.js';

export const Role = z.enum(['admin', 'user']);

/** The JWT claims the bridge reads (after jose checked signature, `exp`, `iss` and `aud`). */
export const TokenClaims = z.object({
  sub: Identifier,
  exp: z.number(),
  iat: z.number().optional(),
  role: Role.optional(),
  name: z.string().max(200).optional(),
  trips: z.array(Identifier).max(10_000).optional(),
});

export type Role = z.infer<typeof Role>;
export type TokenClaims = z.infer<typeof TokenClaims>;
