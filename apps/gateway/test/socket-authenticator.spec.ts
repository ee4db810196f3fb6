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
    authenticator = new SocketAuthenticator({} as never);
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
});
