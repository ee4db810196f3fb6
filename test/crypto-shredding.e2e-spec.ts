import { randomBytes, X509Certificate } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { topicNames, type ShreddableSecret } from '@p2/contracts';
import { sqlOf } from '@p2/event-store';
import { dataSourceOptions } from '@p2/platform';
import { DataKeyVault } from '@p2/read-models';
import { eventually } from '@p2/testing';
import { runP2ctl } from '../apps/p2ctl/src/p2ctl';
import { TestCluster } from './support/cluster';
import { http } from './support/http';
import { opensslCsr } from './support/openssl';
import { rebuildFromLog, snapshotProjections } from './support/projections';
import { TopicRecords } from './support/topic-records';

/** Crypto-shredding of key material (docs/architecture.md#crypto-shredding): key_data reaches the log
 * and the events topic only as ciphertext under a data key of its item, and DELETE destroys that key,
 * so nothing published or logged yields the deleted material; the read models still rebuild. */
describe('crypto-shredding of key material', () => {
  const password = 'correct horse battery staple';
  const fid = 'ada@example.com';
  let cluster: TestCluster;
  let db: Client;
  let token: string;
  const serials: string[] = [];
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;

  /** A key material item whose bytes are found nowhere else, and every form they could be found in. */
  const items = [0, 1].map(() => {
    const raw = randomBytes(48);
    const keyData = `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${raw.toString('base64')}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
    const text = Buffer.from(keyData, 'utf8');
    return { keyData, forms: [raw.toString('base64'), raw.toString('base64url'), raw.toString('hex'), text.toString('base64'), text.toString('base64url'), text.toString('hex')] };
  });
  const found = (haystack: string, item: (typeof items)[number]) => item.forms.filter((form) => haystack.toLowerCase().includes(form.toLowerCase()));
  const eventsText = async () => JSON.stringify((await db.query(`SELECT stream_id, type, data, metadata FROM events ORDER BY global_position`)).rows);
  const sealedOf = async (serial: string): Promise<ShreddableSecret> => {
    const { rows } = await db.query<{ data: { sealedKeyData: ShreddableSecret } }>(`SELECT data FROM events WHERE type = 'KeyMaterialStored' AND data->>'serial' = $1`, [serial]);
    expect(rows).toHaveLength(1);
    return rows[0]!.data.sealedKeyData;
  };
  /** What someone holding the log and P2_KEY_ENCRYPTION_KEY gets from an item's event. */
  const openWithVault = async (serial: string): Promise<string | undefined> => {
    const dataSource = new DataSource(dataSourceOptions(cluster.databaseUrl));
    await dataSource.initialize();
    try {
      const vault = new DataKeyVault(() => cluster.keyEncryptionKey);
      return await vault.open(sqlOf(dataSource.manager), await sealedOf(serial), { federationId: fid, serial });
    } finally {
      await dataSource.destroy();
    }
  };
  let events: TopicRecords;

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'shredding' });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    events = new TopicRecords(topicNames(cluster.topicPrefix).events);
    await events.start();
    expect((await http('POST', api('/register'), { json: { actor_name: 'ada', auth_payload: { password } } })).status).toBe(201);
    for (const sessionId of ['laptop', 'phone']) {
      const res = await http('POST', api('/session/trust'), { json: { actor_name: 'ada', csr: opensslCsr({ localName: 'ada', domain: 'example.com', sessionId }).csrPem, auth_payload: { password } } });
      expect(res.status).toBe(201);
      token ??= res.body.token;
      serials.push(BigInt(`0x${new X509Certificate(res.body.id_cert).serialNumber}`).toString());
    }
  });

  afterAll(async () => {
    await events?.stop();
    await db?.end();
    await cluster?.stop();
  });

  const topicText = () => JSON.stringify(events.values);
  const waitForTopic = (type: string) =>
    eventually(() => events.values.filter((v) => JSON.stringify(v).includes(`"${type}"`)).length, { until: (n) => n > 0, timeoutMs: 30000, what: `${type} on the events topic` });

  it('stores key material: GET serves it, and neither the log nor the events topic carries it in clear', async () => {
    const stored = await http('POST', api('/session/keymaterial'), {
      json: items.map((item, i) => ({ key_data: item.keyData, serial_number: serials[i] })),
      headers: { authorization: `Bearer ${token}` },
    });
    expect(stored.status).toBe(201);
    const got = await http('GET', api('/session/keymaterial'), { headers: { authorization: `Bearer ${token}` } });
    expect(got.status).toBe(200);
    expect((got.body as { serial_number: string; key_data: string }[]).map((i) => [i.serial_number, i.key_data]).sort()).toEqual(serials.map((s, i) => [s, items[i]!.keyData]).sort());

    await waitForTopic('KeyMaterialStored');
    const log = await eventsText();
    for (const item of items) {
      expect(found(log, item)).toEqual([]);
      expect(found(topicText(), item)).toEqual([]);
    }
    // what is in the log is the item sealed under a data key that exists (and opens to it)
    for (const [i, serial] of serials.entries()) expect(await openWithVault(serial!)).toBe(items[i]!.keyData);
    expect((await db.query(`SELECT count(*)::int AS n FROM data_keys WHERE federation_id = $1`, [fid])).rows[0].n).toBe(2);
  });

  it('DELETE destroys the data key with the item: the log and the topic hold only ciphertext nobody can open', async () => {
    const deleted = await http('DELETE', `${api('/session/keymaterial')}?serials=${serials[0]}`, { headers: { authorization: `Bearer ${token}`, 'x-p2-sensitive-solution': password } });
    expect(deleted.status).toBe(204);
    const got = await http('GET', api('/session/keymaterial'), { headers: { authorization: `Bearer ${token}` } });
    expect((got.body as { serial_number: string }[]).map((i) => i.serial_number)).toEqual([serials[1]]);

    await waitForTopic('KeyMaterialDeleted');
    const log = await eventsText();
    for (const item of items) {
      expect(found(log, item)).toEqual([]);
      expect(found(topicText(), item)).toEqual([]);
    }
    const sealed = await sealedOf(serials[0]!);
    expect(topicText()).toContain(sealed.ciphertext); // the topic has the ciphertext…
    expect((await db.query(`SELECT count(*)::int AS n FROM data_keys WHERE key_id = $1`, [sealed.keyId])).rows[0].n).toBe(0); // …whose key is gone
    expect(await openWithVault(serials[0]!)).toBeUndefined();
    // the other item's key is untouched
    expect(await openWithVault(serials[1]!)).toBe(items[1]!.keyData);
  });

  it('a rebuild after the deletion equals the live read models (the deleted item is skipped)', async () => {
    const live = await snapshotProjections(db);
    expect(live.key_material).toHaveLength(1);
    await rebuildFromLog(cluster.databaseUrl, cluster.keyEncryptionKey);
    expect(await snapshotProjections(db)).toEqual(live);
  });

  it('p2ctl projections rebuild opens the data keys with P2_KEY_ENCRYPTION_KEY and rebuilds the same rows', async () => {
    const live = await snapshotProjections(db);
    let out = '';
    let err = '';
    const code = await runP2ctl(['projections', 'rebuild'], {
      env: {
        KAFKA_BROKERS: process.env.KAFKA_BROKERS,
        P2_KAFKA_TOPIC_PREFIX: cluster.topicPrefix,
        DATABASE_URL: cluster.databaseUrl,
        P2_DOMAIN: 'example.com',
        P2_OPERATOR: 'tester',
        NODE_ENV: 'test',
        P2_KEY_ENCRYPTION_KEY: cluster.keyEncryptionKey.toString('hex'),
      },
      out: (line) => void (out += `${line}\n`),
      err: (line) => void (err += `${line}\n`),
      readStdin: async () => '',
    });
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toMatch(/rebuilt the read models from \d+ events/);
    expect(await snapshotProjections(db)).toEqual(live);
  });

  it('a rebuild with another key-encryption key stops instead of dropping what it cannot open', async () => {
    await expect(rebuildFromLog(cluster.databaseUrl, randomBytes(32))).rejects.toThrow(/data key .* cannot be used/);
    expect((await db.query(`SELECT key_data FROM key_material`)).rows).toEqual([{ key_data: items[1]!.keyData }]);
  });

  it('an event of schema version 1 (key_data in clear, written before crypto-shredding) still rebuilds', async () => {
    const legacy = `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${randomBytes(24).toString('base64')}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
    await db.query(
      `INSERT INTO events (stream_id, stream_position, type, schema_version, data, metadata)
       SELECT stream_id, stream_position + 1, 'KeyMaterialStored', 1, $2::jsonb, metadata FROM events WHERE stream_id = $1 ORDER BY stream_position DESC LIMIT 1`,
      [`keymaterial-${fid}`, JSON.stringify({ federationId: fid, serial: serials[0], keyData: legacy, encryptionAlgorithms: [], storedAt: new Date().toISOString() })],
    );
    await rebuildFromLog(cluster.databaseUrl, cluster.keyEncryptionKey);
    const got = await http('GET', api('/session/keymaterial'), { headers: { authorization: `Bearer ${token}` } });
    expect((got.body as { serial_number: string; key_data: string }[]).map((i) => [i.serial_number, i.key_data]).sort()).toEqual(
      [
        [serials[0], legacy],
        [serials[1], items[1]!.keyData],
      ].sort(),
    );
  });
});
