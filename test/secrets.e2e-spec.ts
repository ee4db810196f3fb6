import { createHmac, hkdfSync } from 'node:crypto';
import { Client } from 'pg';
import { requireKeyEncryptionKey, type AppConfig } from '@p2/config';
import { APP_CONFIG } from '@p2/platform';
import { TestCluster } from './support/cluster';
import { http } from './support/http';
import { opensslCsr } from './support/openssl';

/** Secrets stay where they belong (docs/architecture.md#secrets): the gateway holds no
 * key-encryption key, and no session token follows from anything published. */
describe('secrets', () => {
  const password = 'correct horse battery staple';
  let cluster: TestCluster;
  let db: Client;
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'secrets' });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    expect((await http('POST', api('/register'), { json: { actor_name: 'sara', auth_payload: { password } } })).status).toBe(201);
  });

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  it("a running gateway's configuration has a token key and no key-encryption key", () => {
    const config = cluster.gatewayApp(0).get<AppConfig>(APP_CONFIG);
    expect(config.tokenKey).toHaveLength(32);
    expect(config.keyEncryptionKey).toBeUndefined();
  });

  it('an Idempotency-Key retry gets the same token, and the token is no HMAC of anything its events publish, even under the KEK', async () => {
    const csr = opensslCsr({ localName: 'sara', domain: 'example.com', sessionId: 'retry' }).csrPem;
    const open = () =>
      http('POST', api('/session/trust'), { json: { actor_name: 'sara', csr, auth_payload: { password } }, headers: { 'idempotency-key': 'open-1' } });
    const first = await open();
    const retry = await open();
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.body.token).toBe(first.body.token);

    const kek = requireKeyEncryptionKey(cluster.config());
    const kekDerived = Buffer.from(hkdfSync('sha256', kek, Buffer.alloc(0), 'p2-session-token-v1', 32));
    const { rows } = await db.query<{ metadata: Record<string, unknown> }>(`SELECT metadata FROM events WHERE type = 'SessionOpened' AND data->>'sessionId' = 'retry'`);
    expect(rows).toHaveLength(1);
    const published = Object.values(rows[0]!.metadata).filter((v): v is string => typeof v === 'string');
    expect(published.length).toBeGreaterThan(0);
    for (const value of published) {
      expect(createHmac('sha256', kekDerived).update(value).digest('base64url')).not.toBe(first.body.token);
      expect(createHmac('sha256', kek).update(value).digest('base64url')).not.toBe(first.body.token);
    }
  });
});
