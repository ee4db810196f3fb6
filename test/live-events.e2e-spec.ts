import { AssignerProtocol, Kafka, logLevel, type Consumer } from 'kafkajs';
import { Client } from 'pg';
import type { AppConfig } from '@p2/config';
import { topicNames } from '@p2/contracts';
import type { ConsumerSupervisor } from '@p2/messaging';
import { APP_CONFIG } from '@p2/platform';
import { eventually, kafkaBrokers, TestClock } from '@p2/testing';
import { GatewayEventsFeed } from '../apps/gateway/src/events-feed/gateway-events.feed';
import { ConnectionRegistry } from '../apps/gateway/src/live-events/connection-registry';
import { EventsTopicListener } from '../apps/gateway/src/live-events/events-topic.listener';
import { SocketAuthenticator } from '../apps/gateway/src/live-events/socket-authenticator';
import { ReadCache } from '../apps/gateway/src/read-cache/read-cache';
import { TestCluster } from './support/cluster';
import { GatewayClient } from './support/gateway-client';
import { http, bearer } from './support/http';
import { opensslCsr } from './support/openssl';

interface Session {
  readonly token: string;
  readonly certPem: string;
}

/** The WebSocket gateway (/.p2/core/v1/gateway) over real sockets, with two gateways on one
 * Kafka broker and PostgreSQL: live pushes fed by p2.core.events.v1, resume on the other gateway,
 * acknowledgement by heartbeat, heartbeats and identify deadlines, close codes and back-pressure. */
describe('WebSocket gateway (2 gateways)', () => {
  let cluster: TestCluster;
  let db: Client;
  const clock = new TestClock();
  const clients: GatewayClient[] = [];
  const password = 'correct horse battery staple';
  const api = (path: string, gateway = 0) => `${cluster.gatewayUrls[gateway]}/.p2/core/v1${path}`;

  beforeAll(async () => {
    cluster = await TestCluster.start({
      label: 'live-events',
      gateways: 2,
      clock,
      env: {
        P2_ADMINS: 'root',
        P2_WS_HEARTBEAT_INTERVAL_MS: '1000',
        P2_WS_HEARTBEAT_TOLERANCE_MS: '1000',
        P2_WS_IDENTIFY_TIMEOUT_MS: '3000',
        P2_WS_QUEUE_MAX_BYTES: '65536',
        P2_WS_KEY_CHANGE_SPREAD_MS: '500',
      },
    });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  async function connect(gateway = 0, options: { heartbeats?: boolean | 'empty'; path?: string } = {}): Promise<GatewayClient> {
    const client = await GatewayClient.connect(cluster.gatewayUrls[gateway]!, options);
    clients.push(client);
    return client;
  }

  async function register(actor: string): Promise<void> {
    expect((await http('POST', api('/register'), { json: { actor_name: actor, auth_payload: { password } } })).status).toBe(201);
  }

  async function signIn(actor: string, sessionId: string, gateway = 0): Promise<Session> {
    const csr = opensslCsr({ localName: actor, domain: 'example.com', sessionId });
    const res = await http('POST', api('/session/trust', gateway), { json: { actor_name: actor, csr: csr.csrPem, auth_payload: { password } } });
    expect(res.status).toBe(201);
    return { token: res.body.token, certPem: res.body.id_cert };
  }

  async function fetchedUpTo(actor: string, sessionId: string): Promise<number> {
    const rows = await db.query(`SELECT fetched_seq::int AS f FROM session_inbox_cursors WHERE federation_id = $1 AND session_id = $2`, [`${actor}@example.com`, sessionId]);
    return rows.rows[0]?.f ?? 0;
  }

  it('greets with Hello (heartbeatInterval as a string, no sequence number), also on the path with a trailing slash', async () => {
    for (const path of ['/.p2/core/v1/gateway', '/.p2/core/v1/gateway/']) {
      const client = await connect(1, { heartbeats: false, path });
      expect(client.messages[0]).toEqual({ n: 'core', op: 1, d: { heartbeatInterval: '1000' } });
    }
  });

  it('pushes the NEW_SESSION of a sign-in through gateway B to a client on gateway A, as the same item GET /events serves', async () => {
    await register('alice');
    const phone = await signIn('alice', 'phone');
    // heartbeats that confirm nothing: the item must stay unacknowledged, and a silent socket is
    // closed after 3 s, which a sign-in under load may take
    const client = await connect(0, { heartbeats: 'empty' });
    await client.identify(phone.token);
    const laptop = await signIn('alice', 'laptop', 1);
    // how soon is the bench's to measure (npm run bench:ws), not a test's to assert
    const pushed = await client.next((m) => m.op === 3);
    expect(pushed).toEqual({ type: 'NEW_SESSION', n: 'core', op: 3, d: { cert: laptop.certPem }, s: expect.any(Number) });
    // not acknowledged yet (no heartbeat confirmed it): the REST inbox holds the same item
    const polled = await http('GET', api('/events', 1), { headers: bearer(phone.token) });
    expect(polled.status).toBe(200);
    expect(polled.body).toEqual([pushed]);
  });

  it('reads p2.core.events.v1 in one consumer group per gateway, for the WebSocket and the read cache alike', async () => {
    const events = topicNames(cluster.topicPrefix).events;
    const admin = new Kafka({ clientId: 'p2-tests', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const subscribes = (metadata: Buffer) => {
        try {
          return AssignerProtocol.MemberMetadata.decode(metadata)?.topics.includes(events) ?? false;
        } catch {
          return false; // a group of some other client on the shared broker
        }
      };
      // whatever the groups are called: every group on the broker with a member reading this cluster's events topic
      const readers = async () => {
        const { groups } = await admin.listGroups();
        const { groups: described } = await admin.describeGroups(groups.filter((g) => g.protocolType === 'consumer').map((g) => g.groupId));
        return described
          .filter((g) => g.members.some((m) => subscribes(m.memberMetadata)))
          .map((g) => ({ group: g.groupId, clients: g.members.map((m) => m.clientId) }))
          .sort((a, b) => a.group.localeCompare(b.group));
      };
      const expected = [0, 1]
        .map((i) => cluster.gatewayApp(i).get<AppConfig>(APP_CONFIG).instanceId)
        .map((id) => ({ group: `${cluster.topicPrefix}p2-gateway-events-${id}`, clients: [`p2-gateway-events-${id}`] }))
        .sort((a, b) => a.group.localeCompare(b.group));
      await eventually(async () => expect(await readers()).toEqual(expected), { timeoutMs: 10000, intervalMs: 250 });
    } finally {
      await admin.disconnect();
    }
  });

  it('refuses a listener once the feed runs (it would have missed the join and the position)', () => {
    const feed = cluster.gatewayApp(0).get(GatewayEventsFeed);
    expect(() => feed.subscribe({ onEvent: () => undefined, onError: () => undefined })).toThrow('GatewayEventsFeed.subscribe after the feed started');
  });

  it('pushes an event to the sockets even when the read cache fails to apply it (the listeners share one consumer)', async () => {
    await register('olga');
    const phone = await signIn('olga', 'phone');
    // heartbeating: a silent socket is closed after 3 s, which a sign-in under load may take
    const client = await connect(0);
    await client.identify(phone.token);
    const forgetActor = jest.spyOn(cluster.gatewayApp(0).get(ReadCache), 'forgetActor').mockImplementation(() => {
      throw new Error('read cache broken by the test');
    });
    try {
      const laptop = await signIn('olga', 'laptop', 1);
      expect(await client.next((m) => m.op === 3)).toEqual(expect.objectContaining({ type: 'NEW_SESSION', d: { cert: laptop.certPem } }));
      expect(forgetActor).toHaveBeenCalledWith('olga@example.com');
    } finally {
      forgetActor.mockRestore();
    }
  });

  it('items confirmed by heartbeats are acknowledged and no longer served by GET /events', async () => {
    await register('bob');
    const phone = await signIn('bob', 'phone');
    const client = await connect(1);
    await client.identify(phone.token);
    await signIn('bob', 'laptop');
    await signIn('bob', 'tablet', 1);
    const items = await eventually(() => client.items(), { until: (i) => i.length === 2, what: 'items' });
    expect(items.map((i) => i.s)).toEqual([1, 2]);
    // the acknowledgement is the socket's: nothing polled GET /events before this
    await eventually(() => fetchedUpTo('bob', 'phone'), { until: (f) => f === 2, what: 'fetched_seq' });
    expect((await http('GET', api('/events'), { headers: bearer(phone.token) })).status).toBe(204);
  });

  it('a client that misses two events while away and resumes on the other gateway gets exactly those two, then Resumed', async () => {
    await register('carol');
    const phone = await signIn('carol', 'phone');
    const first = await connect(0);
    await first.identify(phone.token);
    await signIn('carol', 'laptop');
    const [seen] = await eventually(() => first.items(), { until: (i) => i.length === 1, what: 'items' });
    first.close();
    await first.closedWith();
    const tablet = await signIn('carol', 'tablet');
    const watch = await signIn('carol', 'watch', 1);
    const second = await connect(1);
    second.resume(phone.token, seen.s);
    const resumed = await second.next((m) => m.op === 10);
    expect(resumed).toEqual({ n: 'core', op: 10, d: [] });
    // the answers to the client's own heartbeats (op 7) may come in between, by how long the resume took
    expect(second.messages.slice(1).filter((m) => m.op !== 7)).toEqual([
      { type: 'NEW_SESSION', n: 'core', op: 3, d: { cert: tablet.certPem }, s: seen.s + 1 },
      { type: 'NEW_SESSION', n: 'core', op: 3, d: { cert: watch.certPem }, s: seen.s + 2 },
      resumed,
    ]);
  });

  it('refuses to resume from a sequence number that was acknowledged and deleted, or was never sent (4010)', async () => {
    await register('dave');
    const phone = await signIn('dave', 'phone');
    const client = await connect(0);
    await client.identify(phone.token);
    await signIn('dave', 'laptop');
    await signIn('dave', 'tablet');
    await eventually(() => fetchedUpTo('dave', 'phone'), { until: (f) => f === 2, what: 'fetched_seq' });
    for (const s of [1, 3]) {
      const late = await connect(1, { heartbeats: false });
      late.resume(phone.token, s);
      expect((await late.closedWith()).code).toBe(4010);
    }
    const current = await connect(1, { heartbeats: false });
    current.resume(phone.token, 2);
    expect(await current.next((m) => m.op === 10)).toEqual({ n: 'core', op: 10, d: [] });
  });

  it('closes a bad token with 4004, a socket that never identifies with 4003, one that stops heartbeating with 4009 after a Heartbeat Request', async () => {
    const bad = await connect(0, { heartbeats: false });
    bad.send({ n: 'core', op: 2, d: { token: 'A'.repeat(43) } });
    expect((await bad.closedWith()).code).toBe(4004);

    const silent = await connect(1, { heartbeats: false });
    expect((await silent.closedWith()).code).toBe(4003);

    await register('erin');
    const phone = await signIn('erin', 'phone');
    const quiet = await connect(0, { heartbeats: false });
    await quiet.identify(phone.token);
    expect((await quiet.closedWith()).code).toBe(4009);
    const request = quiet.messages.findIndex((m) => m.op === 11);
    expect(quiet.messages[request]).toEqual({ n: 'core', op: 11, d: {} });
  });

  it('closes on protocol errors: unknown op 4001, invalid payload 4002, a service channel before identify 4003 (a heartbeat before it is answered), a second identify 4005, an impossible heartbeat 4007', async () => {
    await register('frank');
    const phone = await signIn('frank', 'phone');
    const cases: [unknown, number][] = [
      [{ n: 'core', op: 10, d: [] }, 4001],
      ['{"n":"core","op":', 4002],
      [{ n: 'core', op: 8, d: { action: 'subscribe', service: 'chat' } }, 4003],
      [{ n: 'core', op: 0, d: { from: '1', to: '5' } }, 4007],
    ];
    for (const [message, code] of cases) {
      const client = await connect(0, { heartbeats: false });
      client.send(message);
      expect({ message, code: (await client.closedWith()).code }).toEqual({ message, code });
    }
    // a Heartbeat before Identify is no protocol error: it is answered, and Identify still works
    const early = await connect(0, { heartbeats: false });
    early.heartbeat({ from: 0, to: 0 });
    expect(await early.next((m) => m.op === 7)).toEqual(expect.objectContaining({ op: 7, d: [] }));
    await early.identify(phone.token);
    expect(early.closed).toBeUndefined();
    early.socket.close();
    const twice = await connect(1, { heartbeats: false });
    await twice.identify(phone.token);
    twice.send({ n: 'core', op: 8, d: { action: 'subscribe', service: 'chat' } });
    expect(await twice.next((m) => m.op === 9)).toEqual({
      n: 'core',
      op: 9,
      d: { action: 'subscribe', service: 'chat', success: false, error: expect.any(String) },
    });
    twice.send({ n: 'core', op: 2, d: { token: phone.token } });
    expect((await twice.closedWith()).code).toBe(4005);
  });

  it('a logout, a deleted session or a rotated certificate closes that session’s sockets (4003); other sessions stay connected; the new token resumes the inbox', async () => {
    await register('grace');
    const phone = await signIn('grace', 'phone');
    const laptop = await signIn('grace', 'laptop');
    const tablet = await signIn('grace', 'tablet');
    const phoneSocket = await connect(0);
    const laptopSocket = await connect(1);
    const tabletSocket = await connect(0);
    await phoneSocket.identify(phone.token);
    await laptopSocket.identify(laptop.token);
    await tabletSocket.identify(tablet.token);
    expect((await http('PUT', api('/session/revoke', 1), { headers: bearer(phone.token) })).status).toBe(204);
    expect((await phoneSocket.closedWith()).code).toBe(4003);
    const deleted = await http('DELETE', `${api('/session')}?session_id=laptop`, { headers: { ...bearer(tablet.token), 'X-P2-Sensitive-Solution': password } });
    expect(deleted.status).toBe(204);
    expect((await laptopSocket.closedWith()).code).toBe(4003);
    // the tablet hears of the laptop's invalidation and is still connected
    const invalidation = await tabletSocket.next((m) => m.op === 4 && m.d.sessionId === 'laptop');
    await tabletSocket.sync();
    expect(tabletSocket.closed).toBeUndefined();
    // rotating the tablet's certificate ends its token: the socket closes, and the new token resumes
    // the same inbox (items are addressed to the session, not to the certificate)
    const csr = opensslCsr({ localName: 'grace', domain: 'example.com', sessionId: 'tablet' });
    const rotated = await http('POST', api('/session/idcert', 1), { headers: { ...bearer(tablet.token), 'X-P2-Sensitive-Solution': password }, body: csr.csrPem });
    expect(rotated.status).toBe(201);
    expect((await tabletSocket.closedWith()).code).toBe(4003);
    const watch = await signIn('grace', 'watch');
    const again = await connect(1, { heartbeats: false });
    again.resume(rotated.body.token, invalidation.s);
    await again.next((m) => m.op === 10);
    expect(again.items()).toEqual([{ type: 'NEW_SESSION', n: 'core', op: 3, d: { cert: watch.certPem }, s: invalidation.s + 1 }]);
  });

  /** Resolves once gateway `gateway`'s live events have handled an event of `type` for the session. */
  function heard(gateway: number, type: string, federationId: string, sessionId: string): { done: Promise<void>; restore: () => void } {
    const listener = cluster.gatewayApp(gateway).get(EventsTopicListener) as unknown as { onEvent: (event: { type: string; data: Record<string, unknown> }) => void };
    const onEvent = jest.spyOn(listener, 'onEvent');
    const matches = (event: { type: string; data: Record<string, unknown> }) => event.type === type && event.data.federationId === federationId && event.data.sessionId === sessionId;
    const done = eventually(() => onEvent.mock.calls.findIndex(([event]) => matches(event)), {
      until: (i) => i >= 0 && onEvent.mock.results[i]!.type === 'return',
      what: `${type} handled`,
    }).then(() => undefined);
    return { done, restore: () => onEvent.mockRestore() };
  }

  it('a logout handled while an Identify is between its token lookup and joining its session still closes the socket', async () => {
    await register('lena');
    const phone = await signIn('lena', 'phone');
    const authenticator = cluster.gatewayApp(0).get(SocketAuthenticator);
    const original = authenticator.authenticate.bind(authenticator);
    let looked!: () => void;
    const lookedUp = new Promise<void>((resolve) => (looked = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    // the Identify's lookup sees the token alive, then waits until the logout's event was handled
    const authenticate = jest.spyOn(authenticator, 'authenticate').mockImplementationOnce(async (token) => {
      const session = await original(token);
      looked();
      await released;
      return session;
    });
    const logout = heard(0, 'SessionLoggedOut', 'lena@example.com', 'phone');
    try {
      const client = await connect(0);
      client.send({ n: 'core', op: 2, d: { token: phone.token } });
      await lookedUp;
      expect((await http('PUT', api('/session/revoke', 1), { headers: bearer(phone.token) })).status).toBe(204);
      await logout.done;
      release();
      // the token died before the Identify completed: it is refused as a revoked token
      expect((await client.closedWith(10000)).code).toBe(4004);
      expect(client.items()).toEqual([]);
    } finally {
      release();
      authenticate.mockRestore();
      logout.restore();
    }
  });

  /** Gateway `gateway`'s events consumer leaves its group, as on a broker restart or a rebalance:
   * events published meanwhile never reach it. `rejoin` brings it back (at the newest offset). */
  async function leaveGroup(gateway: number): Promise<{ rejoin: () => Promise<void> }> {
    const feed = cluster.gatewayApp(gateway).get(GatewayEventsFeed) as unknown as { subscriber: { consumer: Consumer; supervisor: ConsumerSupervisor } };
    const { consumer, supervisor } = feed.subscriber;
    await consumer.stop();
    let back: Promise<void> | undefined;
    return { rejoin: () => (back ??= supervisor.run()) };
  }

  /** `name` signs in on a socket of gateway 0, which then leaves its group; the session logs out
   * through gateway 1, which hears the logout (published) before gateway 0 is back: it never
   * reaches gateway 0, and the socket is still open. The caller rejoins with `away`. */
  async function loggedOutWhileAway(name: string): Promise<{ client: GatewayClient; away: { rejoin: () => Promise<void> } }> {
    await register(name);
    const phone = await signIn(name, 'phone');
    const client = await connect(0);
    await client.identify(phone.token);
    const away = await leaveGroup(0);
    const logout = heard(1, 'SessionLoggedOut', `${name}@example.com`, 'phone');
    try {
      expect((await http('PUT', api('/session/revoke', 1), { headers: bearer(phone.token) })).status).toBe(204);
      await logout.done;
      await client.sync();
      expect(client.closed).toBeUndefined();
      return { client, away };
    } catch (error) {
      await away.rejoin();
      throw error;
    } finally {
      logout.restore();
    }
  }

  it('a logout published while the gateway was out of its consumer group closes the socket once the gateway is back', async () => {
    const { client, away } = await loggedOutWhileAway('mona');
    await away.rejoin();
    expect((await client.closedWith(10000)).code).toBe(4003);
  });

  it('looks a socket\'s token up again at a heartbeat P2_WS_TOKEN_CHECK_INTERVAL_MS after the last lookup, should every event that ended it be missed', async () => {
    const { client, away } = await loggedOutWhileAway('nina');
    let advanced = 0;
    try {
      // the default interval (5 min) passes on the gateways' clock; the gateway stays out of its group
      clock.advance((advanced = 300_000));
      expect((await client.closedWith(10000)).code).toBe(4003);
    } finally {
      clock.advance(-advanced);
      await away.rejoin();
    }
  });

  it('closes a consumer that stops reading with the resumable 4009 once its send queue passes the bound; it can resume', async () => {
    await register('heidi');
    const phone = await signIn('heidi', 'phone');
    for (let i = 0; i < 10; i++) await signIn('heidi', `device-${i}`);
    const client = await connect(0, { heartbeats: false });
    await client.identify(phone.token);
    const items = await eventually(() => client.items(), { until: (i) => i.length === 10, what: 'items' });
    const all = items.map((i) => i.s as number);
    // the client stops reading and keeps asking for every item again (2025 §3.2.6 resends) until
    // the gateway gives up on it; a paused client cannot see that, so the test looks at the gateway
    const ask = { n: 'core', op: 0, d: { from: String(all[0]), to: String(all[9]), except: all.map(String) } };
    const registry = cluster.gatewayApp(0).get(ConnectionRegistry);
    client.socket.pause();
    const flood = setInterval(() => {
      for (let i = 0; i < 25 && client.socket.bufferedAmount < 256 * 1024; i++) client.send(ask);
    }, 10);
    try {
      await eventually(() => registry.session('heidi@example.com', 'phone'), { until: (s) => s === undefined, timeoutMs: 30000, what: 'slow socket' });
    } finally {
      clearInterval(flood);
      client.socket.resume();
    }
    const closed = await client.closedWith();
    expect(closed.code).toBe(4009);
    expect(closed.reason).toMatch(/slow consumer/);
    const again = await connect(1, { heartbeats: false });
    again.resume(phone.token, 0);
    await again.next((m) => m.op === 10);
    expect(again.items().map((i) => i.s)).toEqual(all);
  });

  it('a server key rotation reaches every connected session with SERVER_KEY_CHANGE and LOW_KEY_PACKAGES', async () => {
    await cluster.createAdmin('root', password);
    const admin = await signIn('root', 'console');
    const sockets: GatewayClient[] = [];
    for (const [i, name] of ['ivan', 'judy', 'kim'].entries()) {
      await register(name);
      const session = await signIn(name, 'phone');
      const socket = await connect(i % 2);
      await socket.identify(session.token);
      sockets.push(socket);
    }
    const rotated = await http('PUT', api('/key/server'), { headers: { ...bearer(admin.token), 'X-P2-Sensitive-Solution': password } });
    expect(rotated.status).toBe(200);
    for (const socket of sockets) {
      const change = await socket.next((m) => m.op === 6);
      expect(change).toEqual({ type: 'SERVER_KEY_CHANGE', n: 'core', op: 6, d: { cert: rotated.body, oldInvalidSince: expect.any(Number) }, s: expect.any(Number) });
      const low = await socket.next((m) => m.type === 'LOW_KEY_PACKAGES');
      expect(low).toEqual({ type: 'LOW_KEY_PACKAGES', n: 'core', d: { reason: 'server-key-change' }, s: change.s + 1 });
    }
  });
});
