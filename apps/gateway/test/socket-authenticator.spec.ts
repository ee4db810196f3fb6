import { Logger } from '@nestjs/common';
import { eventually } from '@p2/testing';
import { ConnectionRegistry, type LiveConnection } from '../src/live-events/connection-registry';
import { SocketAuthenticator } from '../src/live-events/socket-authenticator';

describe('SocketAuthenticator.revalidate', () => {
  let authenticator: SocketAuthenticator;

  afterEach(() => {
    authenticator.onModuleDestroy();
    jest.restoreAllMocks();
  });

  it('checks the sockets again after a failed lookup, until the check goes through', async () => {
    authenticator = new SocketAuthenticator({} as never, { onForget: () => undefined } as never);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const outcomes = [new Error('connection terminated'), new Error('connection terminated'), undefined];
    const checks: boolean[] = [];
    const connection = {
      checkToken: async ({ fresh }: { fresh: boolean }) => {
        checks.push(fresh);
        const outcome = outcomes.shift();
        if (outcome) throw outcome;
      },
    } as unknown as LiveConnection;
    const group = new ConnectionRegistry().join(connection, 'a@x.com', 's1', 0);
    await authenticator.revalidate(group);
    // before: a failed lookup was logged and the socket never checked again
    await eventually(() => checks.length, { until: (n) => n === 3, timeoutMs: 5000, what: 'checks' });
    expect(checks).toEqual([true, true, true]);
  });

  describe('while PostgreSQL cannot be asked', () => {
    let checks: number;
    let failNext: () => Promise<void>;
    const failing = () => {
      checks = 0;
      failNext = async () => {
        checks += 1;
        throw new Error('connection terminated');
      };
      const connection = { checkToken: () => failNext() } as unknown as LiveConnection;
      return new ConnectionRegistry().join(connection, 'a@x.com', 's1', 0);
    };

    beforeEach(() => {
      jest.useFakeTimers();
      authenticator = new SocketAuthenticator({} as never, { onForget: () => undefined } as never);
      jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    });
    afterEach(() => jest.useRealTimers());

    it('keeps one pending retry per session, however many checks of it failed', async () => {
      const group = failing();
      // a token event and two rejoins of the events feed, all during the outage
      await authenticator.revalidate(group);
      await authenticator.revalidate(group);
      await authenticator.revalidate(group);
      expect(checks).toBe(3);
      expect(jest.getTimerCount()).toBe(1);
      await jest.advanceTimersByTimeAsync(500);
      // before: three timer chains, three checks at once when PostgreSQL came back
      expect(checks).toBe(4);
      expect(jest.getTimerCount()).toBe(1);
    });

    it('schedules no retry once destroyed, for a check that was still waiting then', async () => {
      const group = failing();
      let fail!: (error: Error) => void;
      failNext = () => new Promise<void>((_, reject) => (fail = reject));
      const checking = authenticator.revalidate(group);
      authenticator.onModuleDestroy();
      fail(new Error('connection terminated'));
      await checking;
      // before: a timer of up to 30 s, set after the shutdown cleared the others
      expect(jest.getTimerCount()).toBe(0);
    });
  });
});
