import { withPayloadOmitted, type Message } from '@p2/contracts';
import type { GatewayEventsListener } from '../src/events-feed/events-fan-out';
import { ConnectionRegistry, type LiveConnection, type SessionGroup } from '../src/live-events/connection-registry';
import { EventsTopicListener } from '../src/live-events/events-topic.listener';

/** The live-events listener's reading of one event, with the registry it reads and what it asks of
 * the pusher and the authenticator recorded. */
function listening() {
  let listener!: GatewayEventsListener;
  const registry = new ConnectionRegistry();
  const join = (fid: string, sid: string) => registry.join({} as LiveConnection, fid, sid, 0);
  const groups = [join('a@x.com', 's1'), join('a@x.com', 's2'), join('b@x.com', 's1')];
  const dirty: SessionGroup[] = [];
  const revalidated: SessionGroup[] = [];
  const pusher = { markDirty: (g: SessionGroup) => dirty.push(g), markSpread: (gs: readonly SessionGroup[]) => dirty.push(...gs) };
  /** what Identifies in flight were told: a session's key, or '*' for every session */
  const ended: string[] = [];
  const authenticator = {
    revalidate: async (g: SessionGroup) => void revalidated.push(g),
    tokensMayHaveEnded: (session?: { federationId: string; sessionId: string }) => void ended.push(session ? `${session.federationId}/${session.sessionId}` : '*'),
  };
  new EventsTopicListener({ liveEvents: { keyChangeSpreadMs: 0 } } as never, { subscribe: (l: GatewayEventsListener) => (listener = l) } as never, registry, pusher as never, authenticator as never);
  const hear = (type: string, data: unknown) =>
    listener.onEvent({ type, data, metadata: { messageId: 'actor-a@x.com@9', correlationId: 'c', causationId: 'c', occurredAt: 't', schemaVersion: 1 } });
  return { groups, dirty, revalidated, ended, hear, positioned: () => listener.onPositioned?.() };
}

describe('EventsTopicListener', () => {
  it("marks and checks the event's own sessions when its data names them", async () => {
    const { groups, dirty, revalidated, hear } = listening();
    await hear('IdCertInvalidated', { federationId: 'a@x.com', sessionId: 's1', serial: '1' });
    expect(dirty).toEqual([groups[0], groups[1]]);
    expect(revalidated).toEqual([groups[0]]);
  });

  it('tells the Identifies in flight of a token event, also of a session with no socket here yet', async () => {
    const { revalidated, ended, hear } = listening();
    await hear('SessionLoggedOut', { federationId: 'c@x.com', sessionId: 's1', serial: '1' });
    await hear('KeyPackagesAdded', { federationId: 'a@x.com', sessionId: 's1' });
    // an Identify of c@x.com/s1 between its lookup and its join has no group to revalidate
    expect(revalidated).toEqual([]);
    expect(ended).toEqual(['c@x.com/s1']);
  });

  it('takes an event published without its data (too large for the topic) as anyone\'s: every session marked and checked', async () => {
    const { groups, dirty, revalidated, ended, hear } = listening();
    const omitted = (type: string) => withPayloadOmitted({ type, data: {}, metadata: {} } as Message, 2_000_000).data;
    await hear('IdCertInvalidated', omitted('IdCertInvalidated'));
    // before: no federationId in the data, so no session heard of its invalidated cert
    expect(dirty).toEqual(groups);
    expect(revalidated).toEqual(groups);
    expect(ended).toEqual(['*']);
    await hear('KeyPackagesAdded', omitted('KeyPackagesAdded'));
    expect(dirty).toHaveLength(3);
    expect(revalidated).toHaveLength(3);
  });

  it('checks the sockets of a foreign session whose announced cert replaced the one they identified with', async () => {
    const { groups, revalidated, hear } = listening();
    await hear('ForeignIdCertAnnounced', { federationId: 'b@x.com', sessionId: 's1', previousSerial: '7', serial: '8', announcedAt: 't' });
    // before: not a token event, so the socket kept the old cert's notAfter and closed at its end
    expect(revalidated).toEqual([groups[2]]);
  });

  it('once the consumer is positioned after a (re)join, reads every inbox and checks every token again (events of the gap were never heard)', () => {
    const { groups, dirty, revalidated, ended, positioned } = listening();
    positioned();
    expect(ended).toEqual(['*']);
    // before: the join re-read the inboxes but checked no token, so a logout of the gap left its socket open
    expect(dirty).toEqual(groups);
    expect(revalidated).toEqual(groups);
  });
});
