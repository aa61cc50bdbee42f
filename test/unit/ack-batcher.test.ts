import { describe, expect, it } from 'vitest';
import { AckBatcher, ackPacing, type AckChannel, type AckPacing } from '../../src/broker/queue-consumer.js';

/** Records the frames the batcher sends; the batching rule is what is tested, the broker in queue-consumer.test.ts. */
function recordingChannel(active = true) {
  const frames: string[] = [];
  const ch: AckChannel = {
    active,
    ack: (tag, multiple) => void frames.push(`ack ${tag}${multiple ? ' multiple' : ''}`),
    requeue: (tag) => void frames.push(`nack ${tag} requeue`),
  };
  return { frames, ch };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Never flushed by itself within a test: each test flushes where the batching rule is what it checks. */
const BY_HAND: AckPacing = { batch: 1000, delayMs: 60_000 };

describe('AckBatcher', () => {
  it('acknowledges a run settled together with a single multiple ack, whatever the order', () => {
    const { frames, ch } = recordingChannel();
    const acks = new AckBatcher(ch, BY_HAND);
    for (const tag of [3, 1, 2, 5, 4]) acks.settle(tag, 'ack');
    acks.flush();
    expect(frames).toEqual(['ack 5 multiple']);
  });

  it('holds back acknowledgements behind an unsettled delivery, and sends them when it settles', () => {
    const { frames, ch } = recordingChannel();
    const acks = new AckBatcher(ch, BY_HAND);
    acks.settle(1, 'ack');
    acks.settle(3, 'ack');
    acks.settle(4, 'ack');
    acks.flush();
    expect(frames).toEqual(['ack 1 multiple']);
    acks.settle(2, 'ack');
    acks.flush();
    expect(frames).toEqual(['ack 1 multiple', 'ack 4 multiple']);
  });

  it('acknowledges deliveries settled above a blocked one one by one, so that one slow trip does not hold back the others', async () => {
    const { frames, ch } = recordingChannel();
    const acks = new AckBatcher(ch, BY_HAND);
    // Tag 1 is a trip whose lane waits (a join lock, Redis, retries); 2..4 are other trips.
    for (const tag of [2, 3, 4]) acks.settle(tag, 'ack');
    acks.flush();
    expect(frames).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(frames).toEqual(['ack 2', 'ack 3', 'ack 4']);
    // When the blocked one settles, one multiple ack covers it and 5; 2..4 are not outstanding any more.
    acks.settle(1, 'ack');
    acks.settle(5, 'ack');
    acks.flush();
    expect(frames.slice(3)).toEqual(['ack 5 multiple']);
  });

  it('puts a requeued delivery back at once and never acknowledges it', () => {
    const { frames, ch } = recordingChannel();
    const acks = new AckBatcher(ch, BY_HAND);
    acks.settle(1, 'ack');
    acks.settle(2, 'requeue');
    acks.flush();
    // The multiple ack stops at 1: tag 2 is no longer the channel's to acknowledge.
    expect(frames).toEqual(['nack 2 requeue', 'ack 1 multiple']);
    acks.settle(3, 'requeue');
    acks.flush();
    expect(frames).toEqual(['nack 2 requeue', 'ack 1 multiple', 'nack 3 requeue']);
    acks.settle(4, 'ack');
    acks.flush();
    expect(frames.at(-1)).toBe('ack 4 multiple');
  });

  it('lets fewer than a batch wait up to the delay, then acknowledges them with one frame', async () => {
    const { frames, ch } = recordingChannel();
    const acks = new AckBatcher(ch, { batch: 4, delayMs: 30 });
    for (const tag of [1, 2, 3]) acks.settle(tag, 'ack');
    await nextTurn();
    expect(frames).toEqual([]);
    await sleep(60);
    expect(frames).toEqual(['ack 3 multiple']);
  });

  it('acknowledges at once when a batch waits, without waiting for the delay or the end of the turn', () => {
    const { frames, ch } = recordingChannel();
    const acks = new AckBatcher(ch, { batch: 4, delayMs: 10_000 });
    for (const tag of [1, 2, 3]) acks.settle(tag, 'ack');
    expect(frames).toEqual([]);
    acks.settle(4, 'ack');
    expect(frames).toEqual(['ack 4 multiple']);
    // The count starts again: one more waits for the delay (not reached within this test).
    acks.settle(5, 'ack');
    expect(frames).toEqual(['ack 4 multiple']);
    acks.flush();
    expect(frames).toEqual(['ack 4 multiple', 'ack 5 multiple']);
  });

  it('paces by half the prefetch count, so that the broker always has slots left to deliver into', () => {
    expect(ackPacing(200)).toEqual({ batch: 100, delayMs: expect.any(Number) });
    expect(ackPacing(1).batch).toBe(1);
  });

  it('sends nothing on a closed channel, where the broker already put everything back', () => {
    const { frames, ch } = recordingChannel(false);
    const acks = new AckBatcher(ch, BY_HAND);
    acks.settle(1, 'ack');
    acks.settle(2, 'requeue');
    acks.flush();
    expect(frames).toEqual([]);
  });
});
