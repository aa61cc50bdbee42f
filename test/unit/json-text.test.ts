import { describe, expect, it } from 'vitest';
import { deepJsonText, jsonText, shallowJsonText } from '../../consumers/json-text.js';

describe('jsonText', () => {
  it('writes what JSON.stringify writes, for every kind of parsed value', () => {
    const values: unknown[] = [
      null,
      true,
      0,
      -1.5e300,
      'a "quoted" \u2028 line\n',
      [],
      {},
      [1, 'two', { three: [null, false, { 'four"': [] }] }],
      { a: { b: { c: [[], {}, ''] } }, 'é': 'ü' },
      JSON.parse('{"__proto__": {"x": 1}, "y": [1, {"z": null}]}'),
    ];
    for (const value of values) expect(deepJsonText(value)).toBe(JSON.stringify(value));
  });

  it('writes out a value nested too deeply for JSON.stringify', () => {
    const depth = 50_000;
    const text = `{"a":${'[{"b":'.repeat(depth)}1${'}]'.repeat(depth)}}`;
    const value: unknown = JSON.parse(text);
    expect(shallowJsonText(value)).toBeUndefined();
    expect(jsonText(value)).toBe(text);
  });
});
