import { X509Certificate } from 'node:crypto';
import { connect, type AddressInfo } from 'node:net';
import { loadConfig } from '@p2/config';
import { PAYLOAD_OMITTED } from '@p2/contracts';
import { ProcessMetrics } from '@p2/observability';
import { TestClock } from '@p2/testing';
import { FillVersions } from '../src/read-cache/bounded-lru';
import { BoundedLru } from '../src/read-cache/bounded-lru';
import { cacheChangeOf } from '../src/read-cache/cache-change';
import { ReadCache, actorKey, type CachedAnswer } from '../src/read-cache/read-cache';
import { answerOf } from '../src/read-cache/read-cache.http';
import { cachedReadPreRouter, preRoutedServer } from '../src/read-cache/read-cache.pre-router';
import { TokenCache } from '../src/read-cache/token-cache';
import { http } from '../../../test/support/http';
import { openssl, withTempDir } from '../../../test/support/openssl';

const config = (env: Record<string, string> = {}) => loadConfig({ NODE_ENV: 'test', KAFKA_BROKERS: '127.0.0.1:1', P2_TOKEN_KEY: '00'.repeat(32), P2_CHALLENGE_KEY: '01'.repeat(32), ...env }, { role: 'gateway' });
const answer = (expiresAt: number): CachedAnswer => ({ body: Buffer.from('"x"'), contentType: 'application/json', etag: '"x"', expiresAt });

/** A self-signed Ed25519 certificate whose notAfter is `days` from now. */
function certPem(days: number): string {
  return withTempDir((dir) => {
    const out = openssl(['req', '-x509', '-newkey', 'ed25519', '-nodes', '-keyout', `${dir}/k.pem`, '-out', `${dir}/c.pem`, '-subj', '/CN=t', '-days', String(days)]);
    if (out.status !== 0) throw new Error(out.stderr);
    return openssl(['x509', '-in', `${dir}/c.pem`]).stdout;
  });
}

describe('BoundedLru', () => {
  it('drops the least recently used entry past its capacity, and keeps nothing at capacity 0', () => {
    const lru = new BoundedLru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect([lru.get('a'), lru.get('b'), lru.get('c')]).toEqual([1, undefined, 3]);
    const none = new BoundedLru<string, number>(0);
    none.set('a', 1);
    expect(none.get('a')).toBeUndefined();
  });
});

describe('ReadCache', () => {
  const clock = new TestClock();
  const live = () => {
    const cache = new ReadCache(config(), clock);
    cache.setLive(true);
    return cache;
  };

  it('does not store a fill that read before an invalidation of its key', () => {
    const cache = live();
    const key = actorKey('key', 'a@example.com');
    const stale = cache.beginFill(key)!;
    const unrelated = cache.beginFill(actorKey('key', 'b@example.com'))!;
    cache.forgetActor('a@example.com');
    cache.store(stale, answer(clock.now().getTime() + 1000));
    expect(cache.lookup(key)).toBeUndefined();
    cache.store(unrelated, answer(clock.now().getTime() + 1000));
    expect(cache.lookup(actorKey('key', 'b@example.com'))).toBeDefined();
    const fresh = cache.beginFill(key)!;
    cache.store(fresh, answer(clock.now().getTime() + 1000));
    expect(cache.lookup(key)).toBeDefined();
  });

  it('does not store a fill that began before everything was forgotten, nor while not live', () => {
    const cache = live();
    const ticket = cache.beginFill('key/server')!;
    cache.forgetAll();
    cache.store(ticket, answer(clock.now().getTime() + 1000));
    expect(cache.lookup('key/server')).toBeUndefined();
    cache.setLive(false);
    expect(cache.beginFill('key/server')).toBeUndefined();
  });

  it('serves an answer only before it expires, by the injected clock', () => {
    const cache = live();
    cache.store(cache.beginFill('key/server')!, answer(clock.now().getTime() + 1000));
    expect(cache.lookup('key/server')).toBeDefined();
    clock.advance(1000);
    expect(cache.lookup('key/server')).toBeUndefined();
  });

  it('serves nothing once its events consumer left the group', () => {
    const cache = live();
    cache.store(cache.beginFill('key/server')!, answer(clock.now().getTime() + 1000));
    cache.setLive(false);
    cache.setLive(true);
    expect(cache.lookup('key/server')).toBeUndefined();
  });
});

describe('FillVersions', () => {
  it('stays bounded: past maxKeys a new epoch voids every older ticket', () => {
    const versions = new FillVersions(2);
    const first = versions.ticket('a');
    versions.bump('x');
    versions.bump('y');
    expect(versions.current(first)).toBe(true);
    versions.bump('z');
    expect(versions.current(first)).toBe(false);
    expect(versions.current(versions.ticket('a'))).toBe(true);
  });
});

describe('TokenCache', () => {
  const session = (federationId: string, sessionId: string, certNotAfter: Date) => ({ federationId, sessionId, certSerial: '1', certNotAfter, foreign: false });

  it('keeps a lookup for the TTL at most and never past the cert notAfter; forgets a session at once', () => {
    const cache = new TokenCache(config({ P2_TOKEN_CACHE_TTL_MS: '5000' }));
    cache.setLive(true);
    const now = new Date(1_800_000_000_000);
    cache.store(cache.beginFill()!, 'h1', session('a@x.com', 's1', new Date(now.getTime() + 60000)), now);
    cache.store(cache.beginFill()!, 'h2', session('a@x.com', 's2', new Date(now.getTime() + 1000)), now);
    expect(cache.lookup('h1', new Date(now.getTime() + 4999))).toBeDefined();
    expect(cache.lookup('h1', new Date(now.getTime() + 5000))).toBeUndefined();
    expect(cache.lookup('h2', new Date(now.getTime() + 1000))).toBeUndefined();
    cache.store(cache.beginFill()!, 'h1', session('a@x.com', 's1', new Date(now.getTime() + 60000)), now);
    cache.forgetSession('a@x.com', 's1');
    expect(cache.lookup('h1', now)).toBeUndefined();
  });

  it('tells its forget listeners of every forgetting: a session, or all tokens (also when it goes live or stops)', () => {
    const cache = new TokenCache(config());
    const heard: string[] = [];
    cache.onForget((session) => heard.push(session ? `${session.federationId}/${session.sessionId}` : '*'));
    cache.setLive(true);
    cache.forgetSession('a@x.com', 's1');
    cache.forgetAll();
    cache.setLive(false);
    expect(heard).toEqual(['*', 'a@x.com/s1', '*', '*']);
  });

  it('forgets exactly the tokens of the session it is told, through evictions, expiries and re-stores', () => {
    const cache = new TokenCache(config({ P2_TOKEN_CACHE_ENTRIES: '3', P2_TOKEN_CACHE_TTL_MS: '5000' }));
    cache.setLive(true);
    const now = new Date(1_800_000_000_000);
    const later = new Date(now.getTime() + 60000);
    const store = (hash: string, federationId: string, sessionId: string, at = now) => cache.store(cache.beginFill()!, hash, session(federationId, sessionId, later), at);
    store('a1', 'a@x.com', 's1');
    store('a2', 'a@x.com', 's1'); // a second token of the same session
    store('b1', 'b@x.com', 's1'); // same session ID, another actor
    store('c1', 'a@x.com', 's10'); // evicts a1, the least recently used
    expect(cache.lookup('a1', now)).toBeUndefined();
    cache.forgetSession('a@x.com', 's1');
    expect(['a2', 'b1', 'c1'].map((h) => cache.lookup(h, now) !== undefined)).toEqual([false, true, true]);
    // a token stored again under another session is that session's now
    store('b1', 'a@x.com', 's1');
    cache.forgetSession('b@x.com', 's1');
    expect(cache.lookup('b1', now)?.federationId).toBe('a@x.com');
    cache.forgetSession('a@x.com', 's1');
    expect(cache.lookup('b1', now)).toBeUndefined();
    // an expired token leaves with its lookup; the session's other token is still forgotten
    store('d1', 'd@x.com', 's1', new Date(now.getTime() - 4000));
    store('d2', 'd@x.com', 's1');
    expect(cache.lookup('d1', new Date(now.getTime() + 1001))).toBeUndefined();
    cache.forgetSession('d@x.com', 's1');
    expect(cache.lookup('d2', now)).toBeUndefined();
    expect(cache.lookup('c1', now)?.sessionId).toBe('s10');
    // the index of tokens by session holds no more sessions than the cache holds tokens
    for (let i = 0; i < 100; i++) store(`e${i}`, `e${i}@x.com`, 's1');
    expect((cache as unknown as { bySession: Map<string, Set<string>> }).bySession.size).toBe(3);
  });

  it('keeps nothing with no room for tokens', () => {
    const cache = new TokenCache(config({ P2_TOKEN_CACHE_ENTRIES: '0' }));
    cache.setLive(true);
    const now = new Date();
    cache.store(cache.beginFill()!, 'h1', session('a@x.com', 's1', new Date(now.getTime() + 60000)), now);
    expect(cache.lookup('h1', now)).toBeUndefined();
    cache.forgetSession('a@x.com', 's1');
  });

  it('does not store a lookup that read before a session was forgotten', () => {
    const cache = new TokenCache(config());
    cache.setLive(true);
    const now = new Date();
    const ticket = cache.beginFill()!;
    cache.forgetSession('a@x.com', 's1');
    cache.store(ticket, 'h1', session('a@x.com', 's1', new Date(now.getTime() + 60000)), now);
    expect(cache.lookup('h1', now)).toBeUndefined();
  });
});

describe('cacheChangeOf', () => {
  it('names the actor and session of certificate changes, the session of token changes, everything for server keys', () => {
    expect(cacheChangeOf('IdCertRotated', { federationId: 'a@x.com', sessionId: 's' })).toEqual({ actor: 'a@x.com', session: { federationId: 'a@x.com', sessionId: 's' } });
    expect(cacheChangeOf('SessionDeleted', { federationId: 'a@x.com', sessionId: 's', serial: '1' })).toEqual({ actor: 'a@x.com', session: { federationId: 'a@x.com', sessionId: 's' } });
    expect(cacheChangeOf('SessionLoggedOut', { federationId: 'a@x.com', sessionId: 's' })).toEqual({ session: { federationId: 'a@x.com', sessionId: 's' } });
    expect(cacheChangeOf('ServerKeyRotated', { serial: '1' })).toEqual({ everything: true });
    expect(cacheChangeOf('ForeignServerCertCached', { domain: 'x.com' })).toEqual({ allTokens: true });
    expect(cacheChangeOf('IdCertInvalidated', {})).toEqual({ everything: true });
    expect(cacheChangeOf('InboxAcknowledged', { federationId: 'a@x.com', sessionId: 's' })).toBeUndefined();
  });

  it('takes an event published without its data (too large for the topic) as anyone\'s change', () => {
    const omitted = { payloadOmitted: { reason: PAYLOAD_OMITTED, bytes: 2_000_000 } };
    expect(cacheChangeOf('IdCertRotated', omitted)).toEqual({ everything: true });
    expect(cacheChangeOf('SessionLoggedOut', omitted)).toEqual({ allTokens: true });
    expect(cacheChangeOf('KeyPackagesAdded', omitted)).toBeUndefined();
  });
});

describe('answerOf', () => {
  const now = Date.now();
  const pem = certPem(1);
  const notAfter = Date.parse(new X509Certificate(pem).validTo);

  it('keeps a cacheable answer until the earliest of its cache window, its certs notAfter and the max age', () => {
    const windowEnd = Math.floor(now / 1000) + 3600;
    const idcerts = answerOf('idcert/actor', Buffer.from(JSON.stringify([{ idCertPem: pem, cacheNotValidAfter: windowEnd }])), 'application/json', now, 7 * 86400000)!;
    expect(idcerts.expiresAt).toBe(windowEnd * 1000);
    expect(idcerts.windowEndsAt).toBe(windowEnd * 1000);
    const longWindow = Math.floor(now / 1000) + 3 * 86400;
    expect(answerOf('idcert/actor', Buffer.from(JSON.stringify([{ idCertPem: pem, cacheNotValidAfter: longWindow }])), 'application/json', now, 7 * 86400000)!.expiresAt).toBe(notAfter);
    expect(answerOf('idcert/server', Buffer.from(JSON.stringify({ idCertPem: pem, cacheNotValidAfter: windowEnd })), 'application/json', now, 60000)!).toEqual(
      expect.objectContaining({ expiresAt: now + 60000, windowEndsAt: now + 60000 }),
    );
    expect(answerOf('key/actor', Buffer.from(JSON.stringify({ idcerts: [pem], invalidated: [false] })), 'application/json', now, 7 * 86400000)!.expiresAt).toBe(notAfter);
  });

  it('gives the same bytes the same strong ETag, other bytes another; keeps nothing of an unexpected shape', () => {
    const a = answerOf('key/server', Buffer.from('"k1"'), 'application/json', now, 60000)!;
    expect(a.etag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    expect(answerOf('key/server', Buffer.from('"k1"'), 'application/json', now, 60000)!.etag).toBe(a.etag);
    expect(answerOf('key/server', Buffer.from('"k2"'), 'application/json', now, 60000)!.etag).not.toBe(a.etag);
    expect(a.windowEndsAt).toBeUndefined();
    expect(answerOf('idcert/actor', Buffer.from('{"no":"array"}'), 'application/json', now, 60000)).toBeUndefined();
    expect(answerOf('idcert/server', Buffer.from('not json'), 'application/json', now, 60000)).toBeUndefined();
  });
});

describe('cachedReadPreRouter', () => {
  const clock = new TestClock();
  const cache = new ReadCache(config(), clock);
  const metrics = new ProcessMetrics('gateway', 'test', 'test');
  // what the framework would answer: here only a marker that the request got past the pre-router
  const server = preRoutedServer(
    (request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(299).end('framework'));
    },
    { http: {}, keepAliveTimeoutMs: 1000, requestTimeoutMs: 5000, idleTimeoutMs: 5000 },
    () => cachedReadPreRouter(cache, clock, metrics, () => undefined),
  );
  const base = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/.p2/core/v1`;
  const send = async (method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) => {
    const res = await http(method, `${base()}${path}`, init);
    return { status: res.status, text: res.text, etag: res.headers.get('etag') };
  };

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cache.setLive(true);
    const expiresAt = clock.now().getTime() + 60000;
    for (const key of ['key/server', actorKey('idcert', 'a@example.com')]) {
      cache.store(cache.beginFill(key)!, { body: Buffer.from(`"${key}"`), contentType: 'application/json; charset=utf-8', etag: `"${key.length}"`, expiresAt });
    }
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers a cached GET or HEAD of a canonical form itself', async () => {
    expect(await send('GET', '/key/server')).toEqual({ status: 200, text: '"key/server"', etag: '"10"' });
    expect(await send('GET', '/idcert/actor/a@example.com')).toEqual(expect.objectContaining({ status: 200, text: '"idcert/actor/a@example.com"' }));
    expect(await send('HEAD', '/key/server')).toEqual({ status: 200, text: '', etag: '"10"' });
    expect(await send('GET', '/key/server', { headers: { 'if-none-match': '"10"' } })).toEqual({ status: 304, text: '', etag: '"10"' });
  });

  it('leaves misses, other forms, other methods and requests with a body to the framework', async () => {
    const passed = { status: 299, text: 'framework', etag: null };
    for (const path of ['/idcert/server', '/key/actor/a@example.com', '/key/server?x=1', '/key/server/', '/idcert/actor/a%40example.com', '/idcert/actor/a@example.com/x', '/idcert/actor/']) {
      expect([path, await send('GET', path)]).toEqual([path, passed]);
    }
    expect(await send('POST', '/key/server')).toEqual(passed);
    expect(await send('GET', '/key/server', { body: '{}' })).toEqual(passed);
    cache.setLive(false);
    expect(await send('GET', '/key/server')).toEqual(passed);
  });

  /** Writes `head` as it is and reads until the server closes. */
  const raw = (head: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () => socket.write(head));
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.on('error', reject);
    });

  it('leaves a cached read with headers the framework refuses to it: two Authorization, two Host, no Host', async () => {
    cache.setLive(true);
    cache.store(cache.beginFill('key/server')!, { body: Buffer.from('"k"'), contentType: 'application/json', etag: '"k"', expiresAt: clock.now().getTime() + 60000 });
    expect(await raw('GET /.p2/core/v1/key/server HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
    for (const headers of ['Host: a\r\nAuthorization: Bearer x\r\nAuthorization: Bearer y\r\n', 'Host: a\r\nHost: b\r\n', '']) {
      expect([headers, await raw(`GET /.p2/core/v1/key/server HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`)]).toEqual([headers, expect.stringMatching(/^HTTP\/1\.1 299 .*\r\nframework\r\n/s)]);
    }
  });

  it('answers an Expect other than 100-continue with 417 and the error body, and 100-continue as before', async () => {
    const answer = await raw('GET /.p2/core/v1/key/server HTTP/1.1\r\nHost: a\r\nExpect: weird\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 417 Expectation Failed\r\n/);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toMatch(/\r\ncontent-type: application\/json; charset=utf-8\r\n/);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ errcode: 417, error: 'P2CORE_EXPECTATION_FAILED', message: expect.any(String) });
    const continued = await raw('POST /.p2/core/v1/key/server HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
    expect(continued).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 299 /);
  });
});
