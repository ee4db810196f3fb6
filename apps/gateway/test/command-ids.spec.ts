import { createHash } from 'node:crypto';
import { loadConfig } from '@p2/config';
import { uuidShaped } from '../src/messaging/command-ids';
import { CommandSender } from '../src/messaging/command-sender.service';

/** A gateway's command sender as it is built from its configuration (nothing is connected). */
const gateway = (tokenKey: string) =>
  new CommandSender(loadConfig({ NODE_ENV: 'test', KAFKA_BROKERS: '127.0.0.1:1', P2_TOKEN_KEY: tokenKey, P2_CHALLENGE_KEY: '01'.repeat(32) }, { role: 'gateway' }));

/** The derivation before command ids were keyed: anyone could compute it. */
const unkeyed = (route: string, actor: string, key: string) => uuidShaped(createHash('sha256').update(`${route}\n${actor}\n${key}`).digest('hex'));

describe('command ids (docs/protocol.md#idempotency-key)', () => {
  const route = 'session/identify/challenge';
  const actor = 'alice@example.com';

  it('are random without an Idempotency-Key', () => {
    const sender = gateway('cd'.repeat(32));
    const a = sender.commandId(route, actor, undefined);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(sender.commandId(route, actor, undefined)).not.toBe(a);
  });

  it('are the same for a retry through another gateway with the same P2_TOKEN_KEY, and UUID-shaped', () => {
    const id = gateway('cd'.repeat(32)).commandId(route, actor, 'k1');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(gateway('cd'.repeat(32)).commandId(route, actor, 'k1')).toBe(id);
  });

  it('do not follow from the route, actor and Idempotency-Key alone: no unkeyed SHA-256, and another P2_TOKEN_KEY gives another id', () => {
    const sender = gateway('cd'.repeat(32));
    const id = sender.commandId(route, actor, 'k1');
    expect(id).not.toBe(unkeyed(route, actor, 'k1'));
    const others = [
      gateway('ce'.repeat(32)).commandId(route, actor, 'k1'),
      sender.commandId(route, actor, 'k2'),
      sender.commandId('session/trust', actor, 'k1'),
      sender.commandId(route, 'bob@example.com', 'k1'),
    ];
    expect(new Set([id, ...others]).size).toBe(5);
  });

  it("of a write made under a session differ per session and per token: a session ID is used again once its session is deleted", () => {
    const sender = gateway('cd'.repeat(32));
    const session = { federationId: actor, sessionId: 's1', tokenHash: 'ab'.repeat(32) };
    const id = sender.sessionCommandId('keypackage/@me', session, 'k1');
    expect(sender.sessionCommandId('keypackage/@me', session, 'k1')).toBe(id);
    const others = [
      sender.sessionCommandId('keypackage/@me', { ...session, tokenHash: 'ac'.repeat(32) }, 'k1'),
      sender.sessionCommandId('keypackage/@me', { ...session, sessionId: 's2' }, 'k1'),
      sender.sessionCommandId('keypackage_lr', session, 'k1'),
      sender.commandId('keypackage/@me', actor, 'k1'),
    ];
    expect(new Set([id, ...others]).size).toBe(5);
    // a logout retried across the change keeps the id it had since the token went into it
    expect(sender.sessionCommandId('session/revoke', session, 'k1')).toBe(sender.commandId(`session/revoke/s1/${session.tokenHash}`, actor, 'k1'));
  });

  it('refuses an Idempotency-Key over 200 characters', () => {
    expect(() => gateway('cd'.repeat(32)).commandId(route, actor, 'k'.repeat(201))).toThrow(/too long/);
  });
});
