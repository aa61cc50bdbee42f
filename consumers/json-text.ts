/**
 * The JSON text of a value parsed from JSON (what the AMQP client hands over for `application/json`
 * bodies). JSON.parse takes any depth, JSON.stringify recurses and overflows the stack past a few
 * thousand levels; such a value is written out here with a stack of its own instead.
 */
export function jsonText(value: unknown): string {
  return shallowJsonText(value) ?? deepJsonText(value);
}

/** JSON.stringify's text, or undefined when the value nests too deeply for it. */
export function shallowJsonText(value: unknown): string | undefined {
  try {
    return JSON.stringify(value) ?? '';
  } catch (err) {
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

/** A message body as bytes: as received, or the JSON of what the AMQP client parsed. */
export function bodyBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body);
  return Buffer.from(jsonText(body));
}

type Frame = { kind: 'array'; items: unknown[]; next: number } | { kind: 'object'; keys: string[]; of: Record<string, unknown>; next: number };

/** JSON.stringify without recursion, for plain parsed values (objects, arrays, strings, numbers, booleans, null). */
export function deepJsonText(root: unknown): string {
  const out: string[] = [];
  const stack: Frame[] = [];
  const open = (value: unknown) => {
    if (Array.isArray(value)) {
      out.push('[');
      stack.push({ kind: 'array', items: value, next: 0 });
    } else if (value !== null && typeof value === 'object') {
      out.push('{');
      stack.push({ kind: 'object', keys: Object.keys(value), of: value as Record<string, unknown>, next: 0 });
    } else {
      out.push(JSON.stringify(value) ?? 'null');
    }
  };
  open(root);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.kind === 'array') {
      if (frame.next === frame.items.length) {
        out.push(']');
        stack.pop();
        continue;
      }
      if (frame.next > 0) out.push(',');
      open(frame.items[frame.next++]);
    } else {
      if (frame.next === frame.keys.length) {
        out.push('}');
        stack.pop();
        continue;
      }
      const key = frame.keys[frame.next++]!;
      out.push(`${frame.next > 1 ? ',' : ''}${JSON.stringify(key)}:`);
      open(frame.of[key]);
    }
  }
  return out.join('');
}
