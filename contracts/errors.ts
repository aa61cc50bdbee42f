import { z } from 'zod';

/** Every failure a client or an HTTP caller can be told about. `not_found` and `unsupported_media_type` are HTTP only. */
export const ErrorCode = z.enum([
  'invalid_payload',
  'unauthorized',
  'forbidden',
  'not_joined',
  'rate_limited',
  'unavailable',
  'internal',
  'not_found',
  'unsupported_media_type',
]);

/** Why a handshake was refused: `connect_error.data.code` (the message is always `unauthorized`). */
export const HandshakeErrorCode = z.enum(['token_missing', 'token_invalid', 'token_expired']);

/** Why a queue message was moved to the dead-letter queue: its `x-rejection-reason` header. */
export const RejectionReason = z.enum([
  'invalid_json',
  'invalid_envelope',
  'unknown_type',
  'invalid_data',
  'too_large',
  'handler_failed',
]);

export const ErrorBody = z.object({ code: ErrorCode, message: z.string() });

/**
 * A failed check as one line, in error messages and dead letters alike: `<path>: <message>`, the path
 * under `root` when given (`data.tripId: …`), or named `whole` when the value itself failed.
 */
export function issueText(issue: { readonly path: readonly PropertyKey[]; readonly message: string }, root = '', whole = ''): string {
  const path = [root, ...issue.path.map(String)].filter(Boolean).join('.') || whole;
  return path ? `${path}: ${issue.message}` : issue.message;
}

export type ErrorCode = z.infer<typeof ErrorCode>;
export type HandshakeErrorCode = z.infer<typeof HandshakeErrorCode>;
export type RejectionReason = z.infer<typeof RejectionReason>;
export type ErrorBody = z.infer<typeof ErrorBody>;
