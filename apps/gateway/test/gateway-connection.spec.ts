import { EventEmitter } from 'node:events';
import { loadConfig } from '@p2/config';
import type { Message } from '@p2/contracts';
import { eventually, TestClock } from '@p2/testing';
import { hashToken } from '../src/auth/session-token';
import type { GatewayEventsListener } from '../src/events-feed/events-fan-out';
import { ConnectionRegistry } from '../src/live-events/connection-registry';
import { EventsTopicListener } from '../src/live-events/events-topic.listener';
import { GatewayConnection, type ConnectionServices } from '../src/live-events/gateway-connection';
import { SocketAuthenticator } from '../src/live-events/socket-authenticator';
import { TokenCache } from '../src/read-cache/token-cache';

/** What a GatewayConnection sees of a ws socket: the messages written to it and how it was closed. */
class FakeSocket extends EventEmitter {
  readonly sent: string[] = [];
  closedWith?: { code: number; reason: string };
  bufferedAmount = 0;
  isPaused = false;

  send(text: string, done: () => void): void {
    this.sent.push(text);
    setImmediate(done);
  }

  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
  }

  pause(): void {
    this.isPaused = true;
  }

  resume(): void {
    this.isPaused = false;
  }

  receive(message: unknown): void {
    this.emit('message', Buffer.from(JSON.stringify(message)), false);
  }
}

/** A gate a test opens: the lookup or read waiting on it answers only then. */
function gate(): { readonly wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

const FID = 'a@x.com';
const SID = 's1';

/**
 * One socket of a gateway whose token checks are real (SocketAuthenticator, the live-events
 * listener of the events feed, the token cache's forgetting) and whose PostgreSQL is a table of
 * live tokens: every lookup is recorded, and a test may hold the first one or the cursor read.
 */
function gatewayWithOneSocket(options: { holdFirstLookup?: boolean; holdCursorRead?: boolean } = {}) {
  const config = loadConfig({ NODE_ENV: 'test', KAFKA_BROKERS: '127.0.0.1:1', P2_TOKEN_KEY: '00'.repeat(32), P2_CHALLENGE_KEY: '01'.repeat(32) }, { role: 'gateway' });
  const clock = new TestClock();
  const liveTokens = new Set(['t1']);
  const lookups: boolean[] = [];
  const firstLookup = gate();
  const cursorRead = gate();
  const sessions = {
    byTokenHash: async (tokenHash: string, { fresh = false }: { fresh?: boolean } = {}) => {
      lookups.push(fresh);
      // what PostgreSQL holds when the statement runs; a held answer is sent only later
      const alive = [...liveTokens].some((token) => hashToken(token) === tokenHash);
      if (lookups.length === 1 && options.holdFirstLookup) await firstLookup.wait;
      return alive ? { federationId: FID, sessionId: SID, certSerial: '1', certNotAfter: new Date(clock.now().getTime() + 3_600_000), foreign: false, tokenHash } : undefined;
    },
  };
  const tokens = new TokenCache(config);
  const authenticator = new SocketAuthenticator(sessions as never, tokens);
  const registry = new ConnectionRegistry();
  const dirty: unknown[] = [];
  const pusher = { markDirty: (group: unknown) => dirty.push(group), markSpread: () => undefined };
  let feed!: GatewayEventsListener;
  new EventsTopicListener(config, { subscribe: (listener: GatewayEventsListener) => (feed = listener) } as never, registry, pusher as never, authenticator);
  const services: ConnectionServices = {
    config: config.liveEvents,
    registry,
    db: {
      query: async () => {
        if (options.holdCursorRead) await cursorRead.wait;
        return [{ fetched_seq: '0', last_seq: '0' }] as never;
      },
    },
    clock,
    pusher: pusher as never,
    acknowledger: { request: () => undefined } as never,
    logger: { log: () => undefined, error: () => undefined, warn: () => undefined },
    beginIdentify: () => authenticator.beginIdentify(),
    authenticate: (token) => authenticator.authenticate(token),
    lookup: (tokenHash, lookupOptions) => authenticator.lookup(tokenHash, lookupOptions),
  };
  const socket = new FakeSocket();
  const connection = new GatewayConnection(socket as never, services);
  connection.start();
  const hear = (type: string, data: Record<string, unknown>) =>
    feed.onEvent({ type, data, metadata: { messageId: 'actor-a@x.com@9', correlationId: 'c', causationId: 'c', occurredAt: 't', schemaVersion: 1 } } as Message);
  /** The Identify is over: the socket was given items to push, or closed. */
  const settled = () => eventually(() => dirty.length > 0 || socket.closedWith !== undefined, { until: (done) => done, timeoutMs: 5000, what: 'Identify settled' });
  return { socket, connection, lookups, liveTokens, firstLookup, cursorRead, hear, settled, tokens, authenticator, clock, positioned: () => feed.onPositioned?.() };
}

const identify = { n: 'core', op: 2, d: { token: 't1' } };

/** An Identify held at its first lookup or at its cursor read while `meanwhile` happens, then let go. */
async function identifyWhile(held: 'firstLookup' | 'cursorRead', meanwhile: (gateway: ReturnType<typeof gatewayWithOneSocket>) => unknown) {
  const gateway = gatewayWithOneSocket(held === 'firstLookup' ? { holdFirstLookup: true } : { holdCursorRead: true });
  gateway.socket.receive(identify);
  await eventually(() => gateway.lookups.length, { until: (n) => n === 1, timeoutMs: 5000, what: 'first lookup' });
  await meanwhile(gateway);
  gateway[held].open();
  await gateway.settled();
  return gateway;
}

describe('GatewayConnection Identify', () => {
  it('looks the token up once when no event that could end it came during the Identify', async () => {
    const gateway = gatewayWithOneSocket();
    gateway.socket.receive(identify);
    await gateway.settled();
    expect(gateway.socket.closedWith).toBeUndefined();
    expect(gateway.connection.acceptsItems).toBe(true);
    // before: a second lookup in PostgreSQL after every join
    expect(gateway.lookups).toEqual([false]);
  });

  it('looks it up once too when the event was about another session', async () => {
    const gateway = await identifyWhile('firstLookup', async (g) => {
      await g.hear('SessionLoggedOut', { federationId: FID, sessionId: 's2', serial: '2' });
      await g.hear('SessionLoggedOut', { federationId: 'b@x.com', sessionId: SID, serial: '3' });
    });
    expect(gateway.connection.acceptsItems).toBe(true);
    expect(gateway.lookups).toEqual([false]);
  });

  it('an event that ends the session\'s token during the first lookup: looked up again in PostgreSQL, and the socket closes with 4004', async () => {
    const gateway = await identifyWhile('firstLookup', async (g) => {
      // the logout committed after the lookup read the token; its event finds no socket to check
      g.liveTokens.clear();
      await g.hear('SessionLoggedOut', { federationId: FID, sessionId: SID, serial: '1' });
    });
    expect(gateway.lookups).toEqual([false, true]);
    expect(gateway.socket.closedWith?.code).toBe(4004);
    expect(gateway.connection.acceptsItems).toBe(false);
  });

  it('an event of the session during the cursor read: looked up again; a token still alive identifies', async () => {
    const gateway = await identifyWhile('cursorRead', async (g) => {
      await g.hear('ForeignIdCertAnnounced', { federationId: FID, sessionId: SID, previousSerial: '1', serial: '2', announcedAt: 't' });
    });
    expect(gateway.lookups).toEqual([false, true]);
    expect(gateway.socket.closedWith).toBeUndefined();
    expect(gateway.connection.acceptsItems).toBe(true);
  });

  it('a rejoin of the events feed during the Identify (events may have been missed): looked up again', async () => {
    const gateway = await identifyWhile('firstLookup', async (g) => {
      g.liveTokens.clear();
      g.positioned();
    });
    expect(gateway.lookups).toEqual([false, true]);
    expect(gateway.socket.closedWith?.code).toBe(4004);
  });

  it('the token cache forgetting the session during the Identify (a reply of this gateway\'s command): looked up again', async () => {
    const gateway = await identifyWhile('cursorRead', async (g) => {
      g.liveTokens.clear();
      g.tokens.forgetSession(FID, SID);
    });
    expect(gateway.lookups).toEqual([false, true]);
    expect(gateway.socket.closedWith?.code).toBe(4004);
  });

  it('a cert that ended during the Identify: looked up again', async () => {
    const gateway = await identifyWhile('cursorRead', async (g) => {
      g.clock.advance(3_600_001);
      g.liveTokens.clear();
    });
    expect(gateway.lookups).toEqual([false, true]);
    expect(gateway.socket.closedWith?.code).toBe(4004);
  });

  it('an Identify that fails leaves no window open', async () => {
    const gateway = gatewayWithOneSocket();
    gateway.liveTokens.clear();
    gateway.socket.receive(identify);
    await gateway.settled();
    expect(gateway.socket.closedWith?.code).toBe(4004);
    expect(gateway.lookups).toEqual([false]);
    expect((gateway.authenticator as unknown as { identifies: { size: number } }).identifies.size).toBe(0);
  });
});
