import { randomBytes } from 'node:crypto';
import { CHALLENGE_LENGTH, ChallengeSigner, isChallengeShaped } from '../src/identify/signed-challenge';

const key = randomBytes(32);
const signer = new ChallengeSigner(key);
const expires = 1_764_300_300;
const alice = { federationId: 'alice@example.com', sessionId: 'laptop' };
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

describe('signed challenges (P2_CHALLENGE_KEY)', () => {
  it('are 64 characters of [A-Za-z0-9] with every class (the profile fixes 64), and never repeat', () => {
    expect(CHALLENGE_LENGTH).toBe(64);
    const seen = new Set<string>();
    const draws = Array.from({ length: 2000 }, () => signer.issue(expires));
    for (const c of draws) {
      expect(c).toMatch(/^[A-Za-z0-9]{64}$/);
      expect(c).toMatch(/[a-z]/);
      expect(c).toMatch(/[A-Z]/);
      expect(c).toMatch(/[0-9]/);
      expect(isChallengeShaped(c)).toBe(true);
      for (const ch of c.slice(30)) seen.add(ch);
    }
    expect(seen.size).toBe(62);
    expect(new Set(draws).size).toBe(draws.length);
  });

  it('state their expiry, and are unbound unless asked', () => {
    expect(signer.read(signer.issue(expires), alice)).toEqual({ expires, actor: 'unbound', session: 'unbound' });
    expect(signer.read(signer.issue(253_402_300_799), alice)?.expires).toBe(253_402_300_799);
  });

  it('state their binding to an actor and a session, checked against the one who uses them', () => {
    const bound = signer.issue(expires, { boundFederationId: 'alice@example.com', boundSessionId: 'laptop' });
    expect(signer.read(bound, alice)).toEqual({ expires, actor: 'this', session: 'this' });
    expect(signer.read(bound, { federationId: 'bob@example.com', sessionId: 'laptop' })).toEqual({ expires, actor: 'another', session: 'this' });
    expect(signer.read(bound, { federationId: 'alice@example.com', sessionId: 'phone' })).toEqual({ expires, actor: 'this', session: 'another' });
    const sessionOnly = signer.issue(expires, { boundSessionId: 'laptop' });
    expect(signer.read(sessionOnly, { federationId: 'bob@example.com', sessionId: 'laptop' })).toEqual({ expires, actor: 'unbound', session: 'this' });
  });

  it('refuse a challenge signed with another key', () => {
    const other = new ChallengeSigner(randomBytes(32));
    expect(signer.read(other.issue(expires), alice)).toBeUndefined();
    expect(other.read(signer.issue(expires), alice)).toBeUndefined();
  });

  it('refuse a challenge altered in any single character', () => {
    const value = signer.issue(expires, { boundFederationId: 'bob@example.com' });
    for (let i = 0; i < value.length; i++) {
      const replaced = ALPHABET[(ALPHABET.indexOf(value[i]!) + 1 + (i % 61)) % 62]!;
      const altered = value.slice(0, i) + replaced + value.slice(i + 1);
      expect({ i, terms: signer.read(altered, { federationId: 'bob@example.com', sessionId: 's' }) }).toEqual({ i, terms: undefined });
    }
  });

  it('refuse strings that are no challenge of this server: other lengths, other characters, values past 47 bytes', () => {
    const value = signer.issue(expires);
    for (const bad of ['', 'short', value.slice(1), `${value}A`, `${value.slice(0, -1)}!`, 'z'.repeat(64), 'A'.repeat(64), 'z'.repeat(121)]) {
      expect(signer.read(bad, alice)).toBeUndefined();
    }
  });
});
