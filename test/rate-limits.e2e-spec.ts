import { TestClock } from '@p2/testing';
import { TestCluster } from './support/cluster';
import { expectErrorBody, http, type HttpResult } from './support/http';
import { opensslCsr } from './support/openssl';

const password = 'correct horse battery staple';

/** A 429 answer: the error body and a Retry-After of whole seconds. */
function expectRateLimited(result: HttpResult, retryAfterSeconds?: number): void {
  expectErrorBody(result, 429, 'P2CORE_RATE_LIMITED');
  const retryAfter = result.headers.get('retry-after');
  expect(retryAfter).toMatch(/^[1-9]\d*$/);
  if (retryAfterSeconds !== undefined) expect(Number(retryAfter)).toBe(retryAfterSeconds);
}

/** Limits per client address and per actor, the lock-out after wrong passwords and its back-off, on
 * a whole cluster whose clock the test moves. The gateway is told it runs behind one proxy
 * (P2_TRUST_PROXY=1) and the test writes the header that proxy would, which is how it speaks from
 * several addresses. */
describe('rate limits and the lock-out after wrong passwords', () => {
  const clock = new TestClock();
  let cluster: TestCluster;
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;
  const from = (address: string, headers: Record<string, string> = {}) => ({ 'x-forwarded-for': address, ...headers });
  const register = (name: string, address: string) => http('POST', api('/register'), { json: { actor_name: name, auth_payload: { password } }, headers: from(address) });
  const trust = (name: string, secret: string, address: string, sessionId = 'laptop') =>
    http('POST', api('/session/trust'), { json: { actor_name: name, csr: opensslCsr({ localName: name, domain: 'example.com', sessionId }).csrPem, auth_payload: { password: secret } }, headers: from(address) });

  beforeAll(async () => {
    clock.freeze();
    cluster = await TestCluster.start({
      label: 'ratelimits',
      clock,
      env: {
        P2_TRUST_PROXY: '1',
        P2_RATE_LIMIT_REGISTER: '3,2',
        P2_RATE_LIMIT_SESSION: '1000,1000',
        P2_RATE_LIMIT_CHALLENGE: '2,1000',
        P2_RATE_LIMIT_IDENTIFY: '1000,2',
        P2_RATE_LIMIT_SENSITIVE: '1000,2',
        P2_RATE_LIMIT_KEYPACKAGE_CLAIM: '1000,4',
        P2_RATE_LIMIT_KEYPACKAGE_TARGET: '3,2',
        P2_LOGIN_LOCKOUT_AFTER: '3',
        P2_LOGIN_LOCKOUT_BASE_SECONDS: '10',
        // a run of wrong passwords is kept this long after its last one: longer than the minute the
        // sensitive-action test waits for its rate window between two wrong passwords
        P2_LOGIN_LOCKOUT_MAX_SECONDS: '120',
      },
    });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('limits registrations per address, answered 429 with Retry-After, and lets them through again as the bucket refills', async () => {
    for (const name of ['reg1', 'reg2', 'reg3']) expect((await register(name, '198.51.100.1')).status).toBe(201);
    const refused = await register('reg4', '198.51.100.1');
    expectRateLimited(refused);
    // addresses a client writes in front of what the proxy appended do not make it another client
    expectRateLimited(await register('reg4', '203.0.113.9, 198.51.100.1'));
    // another address is not affected
    expect((await register('reg4', '198.51.100.2')).status).toBe(201);
    clock.advance(Number(refused.headers.get('retry-after')) * 1000);
    expect((await register('reg5', '198.51.100.1')).status).toBe(201);
  });

  it('limits registrations per requested name, whatever the address', async () => {
    expect((await register('named', '198.51.100.10')).status).toBe(201);
    expectErrorBody(await register('named', '198.51.100.11'), 409, 'P2CORE_FEDERATION_ID_TAKEN');
    expectRateLimited(await register('NAMED', '198.51.100.12'));
  });

  it('locks an actor out after repeated wrong passwords, with a back-off that doubles and releases', async () => {
    expect((await register('lock', '198.51.100.20')).status).toBe(201);
    for (let i = 0; i < 3; i++) expectErrorBody(await trust('lock', 'wrong password', `198.51.100.${21 + i}`), 401, 'P2CORE_INVALID_CREDENTIALS');
    // locked: even the right password is refused, from any address, for the base time
    expectRateLimited(await trust('lock', password, '198.51.100.30'), 10);
    clock.advance(9_000);
    expectRateLimited(await trust('lock', password, '198.51.100.30'), 1);
    clock.advance(1_000);
    // released; one more wrong password doubles the lock-out
    expectErrorBody(await trust('lock', 'wrong password', '198.51.100.31'), 401, 'P2CORE_INVALID_CREDENTIALS');
    expectRateLimited(await trust('lock', password, '198.51.100.30'), 20);
    clock.advance(20_000);
    const opened = await trust('lock', password, '198.51.100.30');
    expect(opened.status).toBe(201);
    // the right password ended the count: three wrong ones are needed again
    for (let i = 0; i < 2; i++) expectErrorBody(await trust('lock', 'wrong password', '198.51.100.32'), 401, 'P2CORE_INVALID_CREDENTIALS');
    expect((await trust('lock', password, '198.51.100.32', 'phone')).status).toBe(201);
  });

  it('limits challenges per address; a HEAD, refused, does not count', async () => {
    for (let i = 0; i < 3; i++) {
      const head = await http('HEAD', api('/challenge'), { headers: from('198.51.100.40') });
      expect([head.status, head.headers.get('allow')]).toEqual([405, 'GET']);
    }
    for (let i = 0; i < 2; i++) expect((await http('GET', api('/challenge'), { headers: from('198.51.100.40') })).status).toBe(200);
    expectRateLimited(await http('GET', api('/challenge'), { headers: from('198.51.100.40') }));
    expect((await http('GET', api('/challenge'), { headers: from('198.51.100.41') })).status).toBe(200);
  });

  it('limits identify per actor', async () => {
    expect((await register('ident', '198.51.100.50')).status).toBe(201);
    const opened = await trust('ident', password, '198.51.100.50');
    const attempt = (address: string) =>
      http('POST', api('/session/identify'), {
        json: { completed_challenge: { challenge: 'A'.repeat(64), signature: '00'.repeat(64) }, id_cert: opened.body.id_cert },
        headers: from(address),
      });
    for (let i = 0; i < 2; i++) expectErrorBody(await attempt(`198.51.100.${51 + i}`), 401, 'P2CORE_CHALLENGE_FAILED');
    expectRateLimited(await attempt('198.51.100.53'));
  });

  it('limits certificate announcements (PUT and POST /session/idcert/extern) per actor, with identify’s numbers in buckets of their own', async () => {
    expect((await register('announcer', '198.51.100.90')).status).toBe(201);
    const opened = await trust('announcer', password, '198.51.100.90');
    // anyone can empty the actor's identify bucket (a junk sign-in naming its public cert) ...
    const junkIdentify = () =>
      http('POST', api('/session/identify'), {
        json: { completed_challenge: { challenge: 'A'.repeat(64), signature: '00'.repeat(64) }, id_cert: opened.body.id_cert },
        headers: from('198.51.100.94'),
      });
    for (let i = 0; i < 2; i++) expectErrorBody(await junkIdentify(), 401, 'P2CORE_CHALLENGE_FAILED');
    expectRateLimited(await junkIdentify());
    // ... which does not block the actor's own announcements
    const announce = (method: 'PUT' | 'POST', address: string) =>
      http(method, api('/session/idcert/extern'), { json: { id_cert: opened.body.id_cert }, headers: from(address, { authorization: `Bearer ${opened.body.token}` }) });
    expect((await announce('PUT', '198.51.100.91')).status).toBe(201);
    expect((await announce('POST', '198.51.100.92')).status).toBe(201);
    const refused = await announce('PUT', '198.51.100.93');
    expectRateLimited(refused);
    expect(refused.body.message).toContain('Too many requests of this kind for this actor.');
    expectRateLimited(await announce('POST', '198.51.100.93'));
    clock.advance(Number(refused.headers.get('retry-after')) * 1000);
    expect((await announce('PUT', '198.51.100.95')).status).toBe(201);
  });

  it('limits sensitive actions per actor, and counts wrong X-P2-Sensitive-Solution values toward the lock-out', async () => {
    expect((await register('sens', '198.51.100.60')).status).toBe(201);
    const opened = await trust('sens', password, '198.51.100.60');
    const token = opened.body.token as string;
    const remove = (solution: string) =>
      http('DELETE', api('/session/keymaterial'), { json: { serials: ['1'] }, headers: from('198.51.100.61', { authorization: `Bearer ${token}`, 'x-p2-sensitive-solution': solution }) });
    expectErrorBody(await remove('wrong password'), 403, 'P2CORE_SENSITIVE_SOLUTION_INVALID');
    expectErrorBody(await remove('wrong password'), 403, 'P2CORE_SENSITIVE_SOLUTION_INVALID');
    expectRateLimited(await remove('wrong password'));
    // a third wrong password after the rate window: the actor is locked out of sign-in too
    clock.advance(60_000);
    expectErrorBody(await remove('wrong password'), 403, 'P2CORE_SENSITIVE_SOLUTION_INVALID');
    expectRateLimited(await trust('sens', password, '198.51.100.62'), 10);
  });

  it("a locked-out actor is told the lock-out's wait, not the shorter one of a request bucket it would empty", async () => {
    expect((await register('locky', '198.51.100.70')).status).toBe(201);
    const token = (await trust('locky', password, '198.51.100.70')).body.token as string;
    for (let i = 0; i < 3; i++) expectErrorBody(await trust('locky', 'wrong password', '198.51.100.71'), 401, 'P2CORE_INVALID_CREDENTIALS');
    // sensitive actions take two a minute for the actor: the third was answered with that bucket's wait
    const remove = () =>
      http('DELETE', api('/session/keymaterial'), { json: { serials: ['1'] }, headers: from('198.51.100.72', { authorization: `Bearer ${token}`, 'x-p2-sensitive-solution': password }) });
    for (let i = 0; i < 4; i++) {
      const refused = await remove();
      expectRateLimited(refused, 10);
      expect([i, refused.body.message]).toEqual([i, expect.stringMatching(/^Too many wrong passwords for this actor\./)]);
    }
    clock.advance(10_000);
    // released, and no request of the lock-out emptied the bucket: a sensitive action goes through
    expectErrorBody(await remove(), 404, 'P2CORE_KEY_MATERIAL_NOT_FOUND');
  });

  it('limits KeyPackage claims per claimer', async () => {
    expect((await register('claimer', '198.51.100.70')).status).toBe(201);
    const opened = await trust('claimer', password, '198.51.100.70');
    const claim = (target: string) => http('GET', api(`/keypackage/${target}`), { headers: from('198.51.100.71', { authorization: `Bearer ${opened.body.token}` }) });
    for (const target of ['reg1', 'reg2', 'reg3', 'reg4']) expect((await claim(`${target}@example.com`)).status).toBe(200);
    const refused = await claim('reg5@example.com');
    expectRateLimited(refused);
    expect(refused.body.message).toContain('Too many requests of this kind for this actor.');
  });

  it("limits claims of one actor's KeyPackages per claimer and by all claimers together", async () => {
    const claimers: string[] = [];
    for (const name of ['drain1', 'drain2', 'drain3']) {
      expect((await register(name, '198.51.100.80')).status).toBe(201);
      claimers.push((await trust(name, password, '198.51.100.80')).body.token as string);
    }
    const claim = (token: string) => http('GET', api('/keypackage/reg2@example.com'), { headers: from('198.51.100.81', { authorization: `Bearer ${token}` }) });
    clock.advance(60_000);
    // one claimer may take the target's packages twice a minute
    expect((await claim(claimers[0]!)).status).toBe(200);
    expect((await claim(claimers[0]!)).status).toBe(200);
    const byOne = await claim(claimers[0]!);
    expectRateLimited(byOne);
    expect(byOne.body.message).toContain("Too many claims of this actor's KeyPackages by you.");
    // everyone together three times: the second claimer gets the last one
    expect((await claim(claimers[1]!)).status).toBe(200);
    const byAll = await claim(claimers[2]!);
    expectRateLimited(byAll);
    expect(byAll.body.message).toContain("Too many claims of this actor's KeyPackages.");
  });
});
