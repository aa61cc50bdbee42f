import { describe, it, expect } from 'vitest';
import {
  AuthRefreshPayload,
  CloudEventEnvelope,
  EVENT_TYPES,
  eventDataSchemas,
  Identifier,
  isEventType,
  issueText,
  MAX_NOTIFICATION_RECIPIENTS,
  Notification,
  NotificationMessage,
  TripJoinPayload,
  TripLeavePayload,
  TripTypingPayload,
  TripUpdatedMessage,
  TripUpdatePayload,
  type EventType,
} from '../../contracts/index.js';

const notification = { type: 'info', title: 'Hello', message: 'A new vote' } as const;

/** One valid and one invalid `data` per consumed event type. */
const examples: Record<EventType, { valid: unknown; invalid: unknown }> = {
  'trip.created': {
    valid: { tripId: 'trip-1', trip: { name: 'Alps' }, actorId: 'user-1' },
    invalid: { tripId: 'trip-1', trip: 'Alps' },
  },
  'trip.updated': {
    valid: { tripId: 'trip-1', changes: { name: 'Alps' }, updatedBy: 'user-1' },
    invalid: { tripId: 'trip-1', changes: ['name'] },
  },
  'trip.deleted': {
    valid: { tripId: 'trip-1' },
    invalid: { tripId: 'trip 1' },
  },
  'trip.member.added': {
    valid: { tripId: 'trip-1', userId: 'user-2' },
    invalid: { tripId: 'trip-1' },
  },
  'trip.member.removed': {
    valid: { tripId: 'trip-1', userId: 'user-2', actorId: 'user-1' },
    invalid: { tripId: 'trip-1', userId: '' },
  },
  'trip.activity': {
    valid: { tripId: 'trip-1', kind: 'vote', payload: { option: 'a' } },
    invalid: { tripId: 'trip-1', kind: '', payload: {} },
  },
  'notification.created': {
    valid: { userId: 'user-1', notification },
    invalid: { notification },
  },
  'notification.broadcast': {
    valid: { notification },
    invalid: { notification: { ...notification, type: 'urgent' } },
  },
};

describe('event data contracts', () => {
  it('cover exactly the event types of the contract table', () => {
    expect([...EVENT_TYPES].sort()).toEqual(Object.keys(examples).sort());
  });

  it.each(Object.keys(examples) as EventType[])('%s accepts a valid example and rejects an invalid one', (type) => {
    const schema = eventDataSchemas[type];
    expect(schema.safeParse(examples[type].valid).success).toBe(true);
    expect(schema.safeParse(examples[type].invalid).success).toBe(false);
  });

  it('trip data must be an object, not an array or null', () => {
    expect(eventDataSchemas['trip.updated'].safeParse({ tripId: 't', changes: null }).success).toBe(false);
    expect(eventDataSchemas['trip.created'].safeParse({ tripId: 't', trip: [] }).success).toBe(false);
  });
});

describe('Identifier', () => {
  it.each(['a', 'trip-123', 'user_1', 'org.team:trip@2026', 'A'.repeat(128), 'Aa0_.:@-'])('accepts %s', (id) => {
    expect(Identifier.safeParse(id).success).toBe(true);
  });

  it.each([
    ['the empty string', ''],
    ['129 characters', 'a'.repeat(129)],
    ['a space', 'trip 1'],
    ['a slash', 'trip/1'],
    ['a hash', 'trip#1'],
    ['a non-ASCII letter', 'tripé'],
    ['a trailing newline', 'trip-1\n'],
    ['a number instead of a string', 42],
  ])('rejects %s', (_what, id) => {
    expect(Identifier.safeParse(id).success).toBe(false);
  });
});

describe('notification.created recipients', () => {
  const schema = eventDataSchemas['notification.created'];

  it('accepts userIds alone', () => {
    expect(schema.safeParse({ userIds: ['a', 'b'], notification }).success).toBe(true);
  });

  it('rejects neither userId nor userIds, and an empty userIds, naming userIds', () => {
    for (const data of [{ notification }, { userIds: [], notification }]) {
      const result = schema.safeParse(data);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.path).toEqual(['userIds']);
    }
  });

  it(`accepts ${MAX_NOTIFICATION_RECIPIENTS} userIds and rejects one more`, () => {
    const ids = Array.from({ length: MAX_NOTIFICATION_RECIPIENTS + 1 }, (_, i) => `user-${i}`);
    expect(MAX_NOTIFICATION_RECIPIENTS).toBe(1000);
    expect(schema.safeParse({ userIds: ids.slice(0, 1000), notification }).success).toBe(true);
    expect(schema.safeParse({ userIds: ids, notification }).success).toBe(false);
  });

  it('rejects an invalid identifier among userIds', () => {
    expect(schema.safeParse({ userIds: ['ok', 'not ok'], notification }).success).toBe(false);
  });
});

describe('Notification', () => {
  it.each(['info', 'success', 'warning', 'error'])('accepts type %s', (type) => {
    expect(Notification.safeParse({ ...notification, type }).success).toBe(true);
  });

  it('rejects a type outside the enum, and a missing type', () => {
    expect(Notification.safeParse({ ...notification, type: 'urgent' }).success).toBe(false);
    expect(Notification.safeParse({ title: 'x', message: 'y' }).success).toBe(false);
  });

  it('needs a title of 1 to 200 characters', () => {
    expect(Notification.safeParse({ ...notification, title: 'x'.repeat(200) }).success).toBe(true);
    expect(Notification.safeParse({ ...notification, title: '' }).success).toBe(false);
    expect(Notification.safeParse({ ...notification, title: 'x'.repeat(201) }).success).toBe(false);
  });

  it('allows a message of up to 2000 characters, the empty message included', () => {
    expect(Notification.safeParse({ ...notification, message: '' }).success).toBe(true);
    expect(Notification.safeParse({ ...notification, message: 'x'.repeat(2000) }).success).toBe(true);
    expect(Notification.safeParse({ ...notification, message: 'x'.repeat(2001) }).success).toBe(false);
  });

  it('takes an optional id and an optional data object', () => {
    expect(Notification.safeParse({ ...notification, id: 'n-1', data: { tripId: 't' } }).success).toBe(true);
    expect(Notification.safeParse({ ...notification, data: 'text' }).success).toBe(false);
  });
});

describe('CloudEventEnvelope', () => {
  const envelope = { specversion: '1.0', id: 'evt-1', source: 'trip-service', type: 'trip.updated', data: {} };
  const failingField = (value: unknown) => CloudEventEnvelope.safeParse(value).error?.issues[0]?.path[0];

  it('accepts the minimal structured-mode envelope, with or without time', () => {
    expect(CloudEventEnvelope.safeParse(envelope).success).toBe(true);
    expect(CloudEventEnvelope.safeParse({ ...envelope, time: '2026-11-25T10:00:00Z' }).success).toBe(true);
    expect(CloudEventEnvelope.safeParse({ ...envelope, time: '2026-11-25T11:00:00+01:00' }).success).toBe(true);
  });

  it('requires specversion 1.0 exactly', () => {
    expect(failingField({ ...envelope, specversion: '1.1' })).toBe('specversion');
    expect(failingField({ ...envelope, specversion: 1 })).toBe('specversion');
    expect(failingField({ ...envelope, specversion: undefined })).toBe('specversion');
  });

  it('requires an id of 1 to 128 characters', () => {
    expect(CloudEventEnvelope.safeParse({ ...envelope, id: 'x'.repeat(128) }).success).toBe(true);
    expect(failingField({ ...envelope, id: '' })).toBe('id');
    expect(failingField({ ...envelope, id: 'x'.repeat(129) })).toBe('id');
    expect(failingField({ ...envelope, id: undefined })).toBe('id');
  });

  it('requires a source and a type', () => {
    expect(failingField({ ...envelope, source: undefined })).toBe('source');
    expect(failingField({ ...envelope, source: '' })).toBe('source');
    expect(failingField({ ...envelope, type: undefined })).toBe('type');
    expect(failingField({ ...envelope, type: '' })).toBe('type');
  });

  it('rejects a time that is not an ISO 8601 timestamp', () => {
    expect(failingField({ ...envelope, time: 'yesterday' })).toBe('time');
  });
});

describe('socket payloads', () => {
  it('trip:join takes a tripId and an optional since position', () => {
    expect(TripJoinPayload.safeParse({ tripId: 'trip-1' }).success).toBe(true);
    expect(TripJoinPayload.safeParse({ tripId: 'trip-1', since: { seq: 0, epoch: 'e1' } }).success).toBe(true);
    expect(TripJoinPayload.safeParse({ tripId: 'trip-1', since: { seq: 12, epoch: 'abc.1' } }).success).toBe(true);
  });

  it.each([
    ['a missing tripId', {}],
    ['an invalid tripId', { tripId: 'trip 1' }],
    ['a negative since.seq', { tripId: 't', since: { seq: -1, epoch: 'e' } }],
    ['a fractional since.seq', { tripId: 't', since: { seq: 1.5, epoch: 'e' } }],
    ['a since without epoch', { tripId: 't', since: { seq: 1 } }],
    ['an empty since.epoch', { tripId: 't', since: { seq: 1, epoch: '' } }],
  ])('trip:join rejects %s', (_what, payload) => {
    expect(TripJoinPayload.safeParse(payload).success).toBe(false);
  });

  it('trip:leave needs a valid tripId', () => {
    expect(TripLeavePayload.safeParse({ tripId: 'trip-1' }).success).toBe(true);
    expect(TripLeavePayload.safeParse({ tripId: '' }).success).toBe(false);
  });

  it('trip:update needs a tripId and a changes object', () => {
    expect(TripUpdatePayload.safeParse({ tripId: 'trip-1', changes: { name: 'x' } }).success).toBe(true);
    expect(TripUpdatePayload.safeParse({ tripId: 'trip-1', changes: 'x' }).success).toBe(false);
    expect(TripUpdatePayload.safeParse({ tripId: 'trip-1' }).success).toBe(false);
  });

  it('trip:typing needs a boolean typing', () => {
    expect(TripTypingPayload.safeParse({ tripId: 'trip-1', typing: true }).success).toBe(true);
    expect(TripTypingPayload.safeParse({ tripId: 'trip-1', typing: 'yes' }).success).toBe(false);
  });

  it('auth:refresh needs a non-empty token', () => {
    expect(AuthRefreshPayload.safeParse({ token: 'a.b.c' }).success).toBe(true);
    expect(AuthRefreshPayload.safeParse({ token: '' }).success).toBe(false);
  });
});

describe('server payloads', () => {
  const tripUpdated = {
    eventId: 'evt-1',
    type: 'trip.updated',
    tripId: 'trip-1',
    seq: 1,
    epoch: 'e1',
    time: '2026-11-25T10:00:00Z',
    source: 'trip-service',
    data: { tripId: 'trip-1', changes: { name: 'Alps' } },
  };

  it('trip:updated checks data against the schema of its type', () => {
    expect(TripUpdatedMessage.safeParse(tripUpdated).success).toBe(true);
    expect(TripUpdatedMessage.safeParse({ ...tripUpdated, type: 'trip.created' }).success).toBe(false);
  });

  it('trip:updated seq starts at 1', () => {
    expect(TripUpdatedMessage.safeParse({ ...tripUpdated, seq: 0 }).success).toBe(false);
  });

  it('notification carries seq and epoch only optionally (absent on broadcasts)', () => {
    const message = { ...notification, eventId: 'evt-1', time: '2026-11-25T10:00:00Z' };
    expect(NotificationMessage.safeParse(message).success).toBe(true);
    expect(NotificationMessage.safeParse({ ...message, seq: 3, epoch: 'e1' }).success).toBe(true);
    expect(NotificationMessage.safeParse({ ...message, time: undefined }).success).toBe(false);
  });
});

describe('isEventType', () => {
  it.each(EVENT_TYPES)('accepts the consumed type %s', (type) => {
    expect(isEventType(type)).toBe(true);
  });

  it.each(['client.trip.update', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'trip.', 'trip.#', ''])(
    'refuses %j',
    (type) => {
      expect(isEventType(type)).toBe(false);
    },
  );
});

describe('issueText', () => {
  it('tells a failed check as one line, under a root path, or naming the whole value', () => {
    const [issue] = Identifier.safeParse('a b').error!.issues;
    expect(issueText(issue!)).toBe('must be 1–128 characters of [A-Za-z0-9_.:@-]');
    expect(issueText({ ...issue!, path: ['tripId'] }, 'data')).toBe('data.tripId: must be 1–128 characters of [A-Za-z0-9_.:@-]');
    expect(issueText({ path: [], message: 'expected object' }, 'data')).toBe('data: expected object');
    expect(issueText({ path: [], message: 'expected object' }, '', 'body')).toBe('body: expected object');
    expect(issueText({ path: ['userIds', 3], message: 'too long' })).toBe('userIds.3: too long');
  });
});
