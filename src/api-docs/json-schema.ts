import { z } from 'zod';

export type JsonSchema = Record<string, unknown>;

export interface JsonSchemaOptions {
  /** draft-07 for AsyncAPI 3.0's default schema format, 2020-12 for OpenAPI 3.1. */
  target: 'draft-7' | 'draft-2020-12';
  /** `input` for what callers send (defaults optional, unknown keys allowed), `output` for what the bridge sends. */
  io: 'input' | 'output';
}

/**
 * A zod contract as a JSON Schema to embed in a document: without `$schema` (the document names the
 * dialect), and without the long pattern zod adds to `format: date-time`, which says the same.
 */
export function jsonSchemaOf(schema: z.ZodType, { target, io }: JsonSchemaOptions): JsonSchema {
  const { $schema: _dialect, ...embedded } = z.toJSONSchema(schema, {
    target,
    io,
    unrepresentable: 'any',
    override: ({ jsonSchema }) => {
      if (jsonSchema.format === 'date-time') delete jsonSchema.pattern;
    },
  });
  return embedded;
}
