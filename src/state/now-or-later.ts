/**
 * A result that is there at once, or later. The memory stores answer at once; Redis later. The hot
 * path of a consumed event (lane, route, append, acknowledgement) passes a result on without a
 * promise when it has one, so that an event whose lane is free and whose stores are in memory is
 * handled in one synchronous call: no promise and no microtask per step.
 */
export type NowOrLater<T> = T | Promise<T>;

/** `fn` applied to the value at once when it is there, else once it is. */
export function andThen<T, R>(value: NowOrLater<T>, fn: (value: T) => NowOrLater<R>): NowOrLater<R> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}
