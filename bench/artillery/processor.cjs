/* global module, process, require, Buffer */
// Artillery processor for trip-fanout.yml: signs a token as Group Planner's API would (HS256 with
// JWT_SECRET), joins the virtual user's trip, and counts the `trip:updated` events it receives.
'use strict';

// Artillery 2.0.21 (the last release for Node 20) loads processors as CommonJS.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createHmac } = require('node:crypto');

const TRIPS = Number(process.env.TRIPS || 10);
const TRIP_PREFIX = process.env.TRIP_PREFIX || 'artillery-trip-';
const ISSUER = process.env.JWT_ISSUER || 'group-planner-api';
const AUDIENCE = process.env.JWT_AUDIENCE || 'group-planner-client';
let users = 0;

const base64url = (text) => Buffer.from(text).toString('base64url');

/** An HS256 JWT: `sub`, the one trip it may join, issuer, audience, one hour of life. */
function sign(secret, claims) {
  const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = base64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

/** Sets `token` and `tripId` for the `connect` step (each virtual user is its own user). */
function signToken(context, events, done) {
  const secret = process.env.JWT_SECRET;
  if (!secret) return done(new Error('set JWT_SECRET to the bridge’s secret'));
  const n = users++;
  const now = Math.floor(Date.now() / 1000);
  context.vars.tripId = `${TRIP_PREFIX}${n % TRIPS}`;
  context.vars.token = sign(secret, {
    sub: `artillery-${process.pid}-${n}`,
    trips: [context.vars.tripId],
    iss: ISSUER,
    aud: AUDIENCE,
    iat: now,
    exp: now + 3600,
  });
  return done();
}

/**
 * Joins the trip with an ack and records, for every `trip:updated`, the time since the event's
 * CloudEvents `time` (set by the publisher: one clock only if publisher and Artillery share a host).
 */
function joinTripAndListen(context, events, done) {
  const socket = context.sockets[''];
  if (!socket) return done(new Error('no socket: the connect step must come first'));
  socket.on('trip:updated', (event) => {
    events.emit('counter', 'bridge.trip_updated', 1);
    const sentAt = Date.parse(event && event.time);
    if (Number.isFinite(sentAt)) events.emit('histogram', 'bridge.event_age_ms', Date.now() - sentAt);
  });
  socket.timeout(10000).emit('trip:join', { tripId: context.vars.tripId }, (err, ack) => {
    if (err || !ack || !ack.ok) {
      events.emit('counter', `bridge.join_failed.${err ? 'timeout' : (ack && ack.error && ack.error.code) || 'unknown'}`, 1);
      return done(new Error('trip:join refused'));
    }
    events.emit('counter', 'bridge.joined', 1);
    return done();
  });
}

module.exports = { signToken, joinTripAndListen };
