import type { Message } from '@p2/contracts';
import { EventsFanOut, type GatewayEventsListener } from '../src/events-feed/events-fan-out';

const event = (type: string, position: number): Message => ({
  type,
  data: {},
  metadata: { messageId: `actor-a@${position}`, correlationId: 'c', causationId: 'c', occurredAt: '2026-01-01T00:00:00.000Z', schemaVersion: 1 },
});

/** A listener that writes what it is told into `log`, and throws (or rejects) where asked. */
function recorder(name: string, log: string[], fails: { on?: string; async?: boolean; hook?: 'onJoined' | 'onPositioned' | 'onLeft'; onError?: boolean } = {}): GatewayEventsListener {
  const hook = (which: 'onJoined' | 'onPositioned' | 'onLeft') => () => {
    log.push(`${name} ${which}`);
    if (fails.hook === which) throw new Error(`${name} ${which} broke`);
  };
  return {
    onEvent: (e) => {
      log.push(`${name} ${e.type}`);
      if (e.type !== fails.on) return undefined;
      if (fails.async) return Promise.reject(new Error(`${name} rejected ${e.type}`));
      throw new Error(`${name} threw on ${e.type}`);
    },
    onError: (error, e) => {
      log.push(`${name} error ${e.metadata.messageId}: ${(error as Error).message}`);
      if (fails.onError) throw new Error(`${name} could not log`);
    },
    onJoined: hook('onJoined'),
    onPositioned: hook('onPositioned'),
    onLeft: hook('onLeft'),
  };
}

describe('EventsFanOut (the events feed handing one consumer to several listeners)', () => {
  it('gives every event to every listener in the order they were added, one event after the other, waiting for a slow one', async () => {
    const log: string[] = [];
    const fanOut = new EventsFanOut(() => undefined);
    let release!: () => void;
    const slowFirst = new Promise<void>((resolve) => (release = resolve));
    fanOut.add({
      ...recorder('cache', log),
      onEvent: async (e) => {
        log.push(`cache ${e.type}`);
        if (e.type === 'First') await slowFirst;
      },
    });
    fanOut.add(recorder('live', log));
    const first = fanOut.event(event('First', 1));
    await Promise.resolve();
    expect(log).toEqual(['cache First']);
    release();
    await first;
    await fanOut.event(event('Second', 2));
    expect(log).toEqual(['cache First', 'live First', 'cache Second', 'live Second']);
  });

  it.each([
    ['throws', false],
    ['rejects', true],
  ])('still hands an event to the other listeners when one %s, and tells only that one’s onError', async (_, async) => {
    for (const failing of ['cache', 'live']) {
      const log: string[] = [];
      const fanOut = new EventsFanOut((what) => log.push(`fan-out: ${what}`));
      fanOut.add(recorder('cache', log, failing === 'cache' ? { on: 'IdCertRotated', async } : {}));
      fanOut.add(recorder('live', log, failing === 'live' ? { on: 'IdCertRotated', async } : {}));
      await fanOut.event(event('IdCertRotated', 1));
      await fanOut.event(event('SessionDeleted', 2));
      const verb = async ? 'rejected' : 'threw on';
      expect(log).toEqual([
        'cache IdCertRotated',
        ...(failing === 'cache' ? [`cache error actor-a@1: cache ${verb} IdCertRotated`] : []),
        'live IdCertRotated',
        ...(failing === 'live' ? [`live error actor-a@1: live ${verb} IdCertRotated`] : []),
        'cache SessionDeleted',
        'live SessionDeleted',
      ]);
    }
  });

  it('reports an onError that throws itself, and the next listener still gets the event', async () => {
    const log: string[] = [];
    const fanOut = new EventsFanOut((what, error) => log.push(`fan-out: ${what}: ${(error as Error).message}`));
    fanOut.add(recorder('cache', log, { on: 'SessionLoggedOut', onError: true }));
    fanOut.add(recorder('live', log));
    await fanOut.event(event('SessionLoggedOut', 7));
    expect(log).toEqual([
      'cache SessionLoggedOut',
      'cache error actor-a@7: cache threw on SessionLoggedOut',
      'fan-out: onError of SessionLoggedOut actor-a@7: cache could not log',
      'live SessionLoggedOut',
    ]);
  });

  it('calls each membership hook on every listener, a failing one reported and costing the others nothing', () => {
    for (const hook of ['onJoined', 'onPositioned', 'onLeft'] as const) {
      const log: string[] = [];
      const fanOut = new EventsFanOut((what, error) => log.push(`fan-out: ${what}: ${(error as Error).message}`));
      fanOut.add(recorder('cache', log, { hook }));
      fanOut.add(recorder('live', log));
      fanOut.joined();
      fanOut.positioned();
      fanOut.left();
      expect(log).toEqual(
        ['onJoined', 'onPositioned', 'onLeft'].flatMap((h) => [`cache ${h}`, ...(h === hook ? [`fan-out: ${h}: cache ${h} broke`] : []), `live ${h}`]),
      );
    }
  });

  it('leaves out the hooks a listener does not have', () => {
    const seen: string[] = [];
    const fanOut = new EventsFanOut((what) => seen.push(`failed ${what}`));
    fanOut.add({ onEvent: () => undefined, onError: () => undefined });
    fanOut.add({ onEvent: () => undefined, onError: () => undefined, onJoined: () => seen.push('joined') });
    fanOut.joined();
    fanOut.positioned();
    fanOut.left();
    expect(seen).toEqual(['joined']);
  });
});
