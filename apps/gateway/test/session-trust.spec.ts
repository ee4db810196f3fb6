import { loadConfig } from '@p2/config';
import type { AuditLog } from '@p2/observability';
import { TestClock } from '@p2/testing';
import type { CredentialSealer } from '../src/auth/credential-sealer';
import * as passwordHasher from '../src/auth/password-hasher';
import type { SessionTokens } from '../src/auth/session-token';
import type { CommandSender } from '../src/messaging/command-sender.service';
import { PasswordLockout } from '../src/rate-limits/password-lockout';
import type { RateLimiter } from '../src/rate-limits/rate-limiter';
import type { ReadDatabase } from '../src/read-models/read-database';
import { SessionTrustController } from '../src/sessions/session-trust.controller';

const config = loadConfig(
  { NODE_ENV: 'test', KAFKA_BROKERS: '127.0.0.1:1', P2_TOKEN_KEY: '00'.repeat(32), P2_CHALLENGE_KEY: '01'.repeat(32), P2_DOMAIN: 'example.com', P2_PASSWORD_SCRYPT_COST: '14' },
  { role: 'gateway' },
);

/** The controller up to the password's verdict: the read model holds `hashes`, and nothing after
 * the verdict is reached by these tests (a command sent would fail on the missing stand-ins). */
function controllerWith(hashes: Record<string, string>) {
  const audit = { record: jest.fn() };
  const db = { prepared: { query: jest.fn(async (_sql: string, [federationId]: string[]) => (federationId! in hashes ? [{ password_hash: hashes[federationId!] }] : [])) } };
  const limits = { check: () => undefined };
  const controller = new SessionTrustController(
    config,
    {} as CommandSender,
    db as unknown as ReadDatabase,
    {} as SessionTokens,
    audit as unknown as AuditLog,
    limits as unknown as RateLimiter,
    new PasswordLockout(config, new TestClock()),
    {} as CredentialSealer,
  );
  return { controller, audit };
}

const trust = (controller: SessionTrustController, actorName: string, password: string) =>
  controller.trust({ actor_name: actorName, csr: 'not a csr', auth_payload: { password } }, '198.51.100.1');

describe('POST /session/trust before the verdict', () => {
  afterEach(() => jest.restoreAllMocks());

  it('runs the password check for an unknown actor too (against no stored hash, as for a wrong password) and answers 401', async () => {
    const verify = jest.spyOn(passwordHasher, 'verifyPassword');
    const { controller, audit } = controllerWith({ 'alice@example.com': await passwordHasher.hashPassword('right password', 14) });

    await expect(trust(controller, 'ghost', 'some password')).rejects.toMatchObject({ status: 401, code: 'P2CORE_INVALID_CREDENTIALS' });
    expect(verify).toHaveBeenCalledTimes(1);
    expect(verify).toHaveBeenCalledWith('some password', undefined, 14);
    expect(await verify.mock.results[0]!.value).toBe(false);
    // the name is not recorded: it may be a password typed into the wrong field
    expect(audit.record).toHaveBeenCalledWith({ kind: 'login.failed', reason: 'unknown-actor' });

    // the same path as a wrong password of an actor that exists, whose CSR is not judged either
    await expect(trust(controller, 'alice', 'wrong password')).rejects.toMatchObject({ status: 401, code: 'P2CORE_INVALID_CREDENTIALS' });
    expect(verify).toHaveBeenCalledTimes(2);
    expect(audit.record).toHaveBeenLastCalledWith(expect.objectContaining({ kind: 'login.failed', actor: 'alice@example.com', reason: 'wrong-password' }));
  });
});
