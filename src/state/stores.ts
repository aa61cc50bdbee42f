/** A position in a stream: `seq` counts 1, 2, 3… within `epoch`. */
export interface StreamHead {
  seq: number;
  epoch: string;
}

/**
 * Numbering of the per-trip and per-user streams. Streams are named like rooms (`trip:<id>`,
 * `user:<id>`). An implementation that forgets a stream must start it again under a new epoch.
 */
export interface StreamStore {
  /** Reserves the next position of a stream. Calls for one stream resolve in call order. */
  next(stream: string): Promise<StreamHead>;
  /** The last position given out (seq 0 for a stream with no event yet). */
  head(stream: string): Promise<StreamHead>;
  close(): Promise<void>;
}

/** The de-duplication window over event ids. */
export interface DedupeStore {
  /** True when the id was not seen within the window; it is then held as seen. */
  claim(id: string): Promise<boolean>;
  /** Forgets a claim whose event could not be handled, so that its redelivery is handled. */
  release(id: string): Promise<void>;
  close(): Promise<void>;
}
