import type { Rng } from '../../chaos/rng.js';
import { mutateBytes } from '../mutate.js';
import { userToken } from '../tokens.js';
import { deepJsonText, randomBytes, randomJson, randomNumber, randomString } from '../values.js';
import { connectFrame, RawSession, type Frame } from '../wire.js';
import { brief, type CaseResult, type Surface } from './types.js';

/** The Socket.IO part of a `4…` message: a type digit (valid or not), attachments, namespace, ack id and payload. */
function socketIoPacket(rng: Rng): string {
  const type = rng.chance(0.85) ? rng.int(0, 6) : rng.int(7, 9);
  const attachments = type === 5 || type === 6 || rng.chance(0.1) ? `${rng.pick([0, 1, 2, 999, 2 ** 53, -1])}-` : '';
  const nsp = rng.chance(0.2) ? `${rng.pick(['/', '/admin', '/x', `/${randomString(rng, 8)}`, '//'])},` : '';
  const id = rng.chance(0.4) ? String(rng.pick([0, 1, 42, 2 ** 31, 2 ** 53 + 7, Number.MAX_VALUE, -5])) : '';
  const payload = rng.pick([
    () => JSON.stringify([rng.pick(['trip:join', 'ping', 'error', 'disconnect', randomString(rng, 10)]), randomJson(rng, 3)]),
    () => JSON.stringify(randomJson(rng, 3)),
    () => deepJsonText(rng, rng.int(100, 50_000)),
    () => `[${'1,'.repeat(rng.int(1, 20_000))}1]`,
    () => JSON.stringify([randomNumber(rng)]),
    () => randomString(rng, 100),
    () => '',
  ])();
  return `${type}${attachments}${nsp}${id}${payload}`;
}

/** One engine.io frame: a packet type `0`..`6` (or beyond), with a Socket.IO packet, junk, or nothing after it. */
function engineFrame(rng: Rng): { frame: Frame; text: boolean } {
  switch (rng.int(0, 9)) {
    case 0:
      return { frame: `${rng.int(0, 6)}${rng.pick(['', 'probe', randomString(rng, 20)])}`, text: true };
    case 1:
      return { frame: `${rng.int(7, 9)}${randomString(rng, 20)}`, text: true };
    case 2:
      return { frame: randomBytes(rng, rng.int(0, 300)), text: false };
    case 3:
      // Text frames that are not UTF-8: the WebSocket layer itself must refuse them.
      return { frame: mutateBytes(rng, Buffer.from(`4${socketIoPacket(rng)}`)), text: true };
    case 4:
      if (rng.chance(0.3)) return { frame: `4${'x'.repeat(rng.int(1_000_001, 1_200_000))}`, text: true };
      return { frame: `4${socketIoPacket(rng)}`, text: true };
    default:
      return { frame: `4${socketIoPacket(rng)}`, text: true };
  }
}

/**
 * Raw engine.io over WebSocket: after an optional valid CONNECT, a burst of valid-looking and broken
 * frames (packet types, Socket.IO packets with namespaces, ack ids, attachment counts, huge numbers,
 * deep JSON, invalid UTF-8, frames over the 1 MB limit, stray binary attachments).
 */
export const engineIoSurface: Surface = {
  name: 'engine.io',
  weight: 3,
  async run(ctx, rng, caseNo): Promise<CaseResult> {
    const frames: Array<{ frame: Frame; text: boolean }> = [];
    const authenticated = rng.chance(0.6);
    if (authenticated) frames.push({ frame: connectFrame({ token: await userToken(`fz-e${caseNo}`, ['fz-t1']) }), text: true });
    for (let n = rng.int(1, 8); n > 0; n--) frames.push(engineFrame(rng));
    const input = `engine.io frames: ${frames.map((f) => brief(f.frame, 80)).join(' | ')}`;
    let session: RawSession;
    try {
      session = await RawSession.open(ctx.url);
    } catch (err) {
      return { input, problems: [`websocket could not open: ${(err as Error).message}`] };
    }
    try {
      await session.waitFor((f) => typeof f === 'string' && f.startsWith('0{'), 3_000);
      for (const { frame, text } of frames) {
        if (!session.open) break;
        if (typeof frame === 'string' || !text) session.send(frame);
        else session.ws.send(frame, { binary: false });
        if (rng.chance(0.3)) await new Promise((r) => setTimeout(r, rng.int(1, 30)));
      }
      await session.settle(rng.int(50, 300));
    } finally {
      await session.close();
    }
    return { input, problems: [] };
  },
};
