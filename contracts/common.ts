import { z } from 'zod';

/** Trip and user identifiers: 1–128 characters of `[A-Za-z0-9_.:@-]`. */
export const Identifier = z
  .string()
  .regex(/^[A-Za-z0-9_.:@-]{1,128}$/, 'must be 1–128 characters of [A-Za-z0-9_.:@-]');

/** A JSON object (not an array, not null): trip snapshots, changes, payloads, extra data. */
export const JsonObject = z.record(z.string(), z.unknown());

/** An ISO 8601 timestamp with a zone, as CloudEvents `time` and our `serverTime`. */
export const Timestamp = z.iso.datetime({ offset: true });

/** Where a client stands in a stream: the last `seq` it saw within `epoch`. */
export const StreamPosition = z.object({
  seq: z.number().int().min(0),
  epoch: z.string().min(1).max(64),
});

export type JsonObject = z.infer<typeof JsonObject>;
export type StreamPosition = z.infer<typeof StreamPosition>;
