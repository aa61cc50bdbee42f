import type { DeadLetters } from '../../src/broker/dead-letters.js';

/** For HTTP tests without a broker: an empty dead-letter queue that records what it was asked. */
export function fakeDeadLetters() {
  const asked: Array<['list' | 'replay', number]> = [];
  const deadLetters: Pick<DeadLetters, 'list' | 'replay'> = {
    async list(limit) {
      asked.push(['list', limit]);
      return { total: 0, messages: [] };
    },
    async replay(limit) {
      asked.push(['replay', limit]);
      return { replayed: 0, unroutable: 0, remaining: 0 };
    },
  };
  return { deadLetters, deadLetterQueue: 'fake.dead-letter', asked };
}
