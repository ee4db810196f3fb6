import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { SessionTokens } from '../src/auth/session-token';
import { CommandIds } from '../src/messaging/command-ids';

/** HMAC-SHA256 by the openssl command line: an implementation independent of the gateway's. */
function opensslHmac(key: Buffer, message: string): Buffer {
  return execFileSync('openssl', ['dgst', '-sha256', '-mac', 'HMAC', '-macopt', `hexkey:${key.toString('hex')}`, '-binary'], { input: message });
}

describe('session tokens (docs/protocol.md#session-tokens)', () => {
  const key = randomBytes(32);
  const tokens = new SessionTokens(key);

  it('draws 256 random bits for a request without an Idempotency-Key', () => {
    const a = tokens.tokenFor('session/trust', 'alice@example.com', undefined);
    const b = tokens.tokenFor('session/trust', 'alice@example.com', undefined);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
  });

  it('gives a retry under the same Idempotency-Key the same token, and any other key, route, actor or token key another one', () => {
    const first = tokens.tokenFor('session/trust', 'alice@example.com', 'k1');
    expect(tokens.tokenFor('session/trust', 'alice@example.com', 'k1')).toBe(first);
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const others = [
      tokens.tokenFor('session/trust', 'alice@example.com', 'k2'),
      tokens.tokenFor('session/idcert/1', 'alice@example.com', 'k1'),
      tokens.tokenFor('session/trust', 'bob@example.com', 'k1'),
      new SessionTokens(randomBytes(32)).tokenFor('session/trust', 'alice@example.com', 'k1'),
    ];
    expect(new Set([first, ...others]).size).toBe(5);
  });

  it("derives a rotation's token from the calling token's hash and the Idempotency-Key, apart from every other token", () => {
    const callingTokenHash = 'a'.repeat(64);
    const first = tokens.rotationTokenFor(callingTokenHash, 'k1');
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // the retry that carries the same (by then dead) token names the same one
    expect(tokens.rotationTokenFor(callingTokenHash, 'k1')).toBe(first);
    const others = [
      tokens.rotationTokenFor('b'.repeat(64), 'k1'),
      tokens.rotationTokenFor(callingTokenHash, 'k2'),
      tokens.tokenFor(callingTokenHash, '', 'k1'),
      new SessionTokens(randomBytes(32)).rotationTokenFor(callingTokenHash, 'k1'),
    ];
    expect(new Set([first, ...others]).size).toBe(5);
    expect(tokens.rotationTokenFor(callingTokenHash, undefined)).not.toBe(tokens.rotationTokenFor(callingTokenHash, undefined));
  });

  it('derives tokens and command ids exactly as documented, so that a retry across an upgrade still gets its first outcome', () => {
    const ids = new CommandIds(key);
    expect(tokens.tokenFor('session/trust', 'alice@example.com', 'k1')).toBe(opensslHmac(key, 'p2-session-token-v2\nsession/trust\nalice@example.com\nk1').toString('base64url'));
    expect(tokens.rotationTokenFor('a'.repeat(64), 'k1')).toBe(opensslHmac(key, `p2-rotation-token-v1\n${'a'.repeat(64)}\nk1`).toString('base64url'));
    const digest = opensslHmac(key, 'p2-command-id-v1\nkeypackage\nalice@example.com\nk1').toString('hex');
    expect(ids.idFor('keypackage', 'alice@example.com', 'k1')).toBe(
      `${digest.slice(0, 8)}-${digest.slice(8, 12)}-${digest.slice(12, 16)}-${digest.slice(16, 20)}-${digest.slice(20, 32)}`,
    );
  });
});
