import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, environmentOf, loadConfig, loadMigrationConfig, nestLogLevels, requireChallengeKey, requireKeyEncryptionKey, requireTokenKey, SECRET_VARIABLES } from '../src';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', P2_KEY_ENCRYPTION_KEY: 'ab'.repeat(32), P2_TOKEN_KEY: 'cd'.repeat(32), P2_CHALLENGE_KEY: 'ef'.repeat(32) };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(base);
    expect(config).toEqual(
      expect.objectContaining({
        port: 3000,
        domain: 'localhost',
        publicUrl: 'http://localhost:3000',
        databaseUrl: 'postgres://postgres@127.0.0.1:5432/polyproto',
        keyMaterialMaxBytes: 10240,
        idCertLifetimeDays: 30,
        admins: [],
        kafkaBrokers: ['127.0.0.1:9092'],
      }),
    );
    expect(config.keyEncryptionKey).toHaveLength(32);
  });

  it('reads an empty variable as unset, as .env.example says (`export P2_PUBLIC_URL=` is the default, not an error)', () => {
    const empty = { P2_DOMAIN: '', P2_PUBLIC_URL: '', DATABASE_URL: '', PORT: '', P2_ADMINS: '', P2_LOG_FORMAT: '', P2_INSTANCE_ID: '' };
    expect(loadConfig({ ...base, ...empty })).toEqual(
      expect.objectContaining({ port: 3000, domain: 'localhost', publicUrl: 'http://localhost:3000', databaseUrl: 'postgres://postgres@127.0.0.1:5432/polyproto', admins: [] }),
    );
    expect(loadConfig({ ...base, ...empty }, { role: 'gateway' }).databaseUrl).toBe('postgres://polyproto_gateway@127.0.0.1:5432/polyproto');
  });

  it('reports every invalid variable at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', P2_DOMAIN: 'not a domain', KAFKA_BROKERS: '', P2_IDCERT_LIFETIME_DAYS: '0', P2_ADMINS: 'ok,Not Ok', P2_KEY_ENCRYPTION_KEY: 'short', P2_TOKEN_KEY: 'cd'.repeat(32), P2_CHALLENGE_KEY: 'ef'.repeat(32) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['PORT', 'P2_DOMAIN', 'KAFKA_BROKERS', 'P2_IDCERT_LIFETIME_DAYS', 'P2_ADMINS', 'P2_KEY_ENCRYPTION_KEY']) {
      expect(problems).toContain(name);
    }
  });

  it('reads the write-path tuning: partition concurrency, produce linger and the reply partition', () => {
    const defaults = loadConfig(base);
    expect({ concurrency: defaults.commandConcurrency, linger: defaults.commandLingerMs, partition: defaults.replyPartition }).toEqual({
      concurrency: 4,
      linger: 2,
      partition: undefined,
    });
    const set = loadConfig({ ...base, P2_COMMAND_CONCURRENCY: '8', P2_COMMAND_LINGER_MS: '0', P2_REPLY_PARTITION: '3' });
    expect({ concurrency: set.commandConcurrency, linger: set.commandLingerMs, partition: set.replyPartition }).toEqual({ concurrency: 8, linger: 0, partition: 3 });
    for (const [name, value] of [['P2_COMMAND_CONCURRENCY', '0'], ['P2_COMMAND_LINGER_MS', '51'], ['P2_REPLY_PARTITION', '-1']]) {
      expect(() => loadConfig({ ...base, [name!]: value })).toThrow(name);
    }
  });

  it('reads the fault tuning: reply and send deadlines, consumer session and heartbeat, held-batch back-off', () => {
    const tuning = (config: ReturnType<typeof loadConfig>) => ({
      reply: config.replyTimeoutMs,
      send: config.commandSendTimeoutMs,
      session: config.kafkaSessionTimeoutMs,
      heartbeat: config.kafkaHeartbeatIntervalMs,
      retry: config.commandRetryMaxDelayMs,
    });
    expect(tuning(loadConfig(base))).toEqual({ reply: 10000, send: 5000, session: 6000, heartbeat: 1000, retry: 2000 });
    const set = loadConfig({ ...base, P2_REPLY_TIMEOUT_MS: '20000', P2_COMMAND_SEND_TIMEOUT_MS: '3000', P2_KAFKA_SESSION_TIMEOUT_MS: '9000', P2_KAFKA_HEARTBEAT_INTERVAL_MS: '3000', P2_COMMAND_RETRY_MAX_DELAY_MS: '500' });
    expect(tuning(set)).toEqual({ reply: 20000, send: 3000, session: 9000, heartbeat: 3000, retry: 500 });
    // the send deadline never outlasts the reply deadline
    expect(loadConfig({ ...base, P2_REPLY_TIMEOUT_MS: '2000' }).commandSendTimeoutMs).toBe(2000);
    for (const [name, value] of [['P2_KAFKA_SESSION_TIMEOUT_MS', '5999'], ['P2_COMMAND_SEND_TIMEOUT_MS', '0'], ['P2_COMMAND_RETRY_MAX_DELAY_MS', 'soon']]) {
      expect(() => loadConfig({ ...base, [name!]: value })).toThrow(name);
    }
    expect(() => loadConfig({ ...base, P2_KAFKA_HEARTBEAT_INTERVAL_MS: '2500' })).toThrow(/at most a third of P2_KAFKA_SESSION_TIMEOUT_MS/);
  });

  it('reads the statement timeout of the database connections: 5 s on a gateway, 15 s on a certstore, one setting for both', () => {
    expect(loadConfig(base, { role: 'gateway' }).databaseStatementTimeoutMs).toBe(5000);
    expect(loadConfig(base, { role: 'certstore' }).databaseStatementTimeoutMs).toBe(15000);
    expect(loadConfig({ ...base, P2_DB_STATEMENT_TIMEOUT_MS: '1000' }, { role: 'gateway' }).databaseStatementTimeoutMs).toBe(1000);
    expect(loadConfig({ ...base, P2_DB_STATEMENT_TIMEOUT_MS: '1000' }, { role: 'certstore' }).databaseStatementTimeoutMs).toBe(1000);
    for (const value of ['0', '99', 'soon']) expect(() => loadConfig({ ...base, P2_DB_STATEMENT_TIMEOUT_MS: value })).toThrow('P2_DB_STATEMENT_TIMEOUT_MS');
  });

  it('refuses to start in production without a key-encryption key', () => {
    expect(() => loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', NODE_ENV: 'production' })).toThrow(/P2_KEY_ENCRYPTION_KEY is required in production/);
  });

  describe('each role reads only its own secret (docs/architecture.md#secrets)', () => {
    const production = { KAFKA_BROKERS: '127.0.0.1:9092', NODE_ENV: 'production' };

    it('the gateway needs P2_TOKEN_KEY and P2_CHALLENGE_KEY, never reads P2_KEY_ENCRYPTION_KEY, and is not given it even when it is set', () => {
      expect(() => loadConfig(production, { role: 'gateway' })).toThrow(/P2_TOKEN_KEY is required in production/);
      expect(() => loadConfig(production, { role: 'gateway' })).toThrow(/P2_CHALLENGE_KEY is required in production/);
      expect(() => loadConfig(production, { role: 'gateway' })).not.toThrow(/P2_KEY_ENCRYPTION_KEY/);
      const gateway = loadConfig({ ...production, P2_TOKEN_KEY: 'cd'.repeat(32), P2_CHALLENGE_KEY: 'ef'.repeat(32), P2_KEY_ENCRYPTION_KEY: 'ab'.repeat(32) }, { role: 'gateway' });
      expect(gateway.keyEncryptionKey).toBeUndefined();
      expect(requireTokenKey(gateway).toString('hex')).toBe('cd'.repeat(32));
      expect(requireChallengeKey(gateway).toString('hex')).toBe('ef'.repeat(32));
      expect(() => requireKeyEncryptionKey(gateway)).toThrow(ConfigError);
      expect(() => loadConfig({ ...production, P2_TOKEN_KEY: 'short', P2_CHALLENGE_KEY: 'ef'.repeat(32) }, { role: 'gateway' })).toThrow(/P2_TOKEN_KEY must be 32 bytes/);
      expect(() => loadConfig({ ...production, P2_TOKEN_KEY: 'cd'.repeat(32), P2_CHALLENGE_KEY: 'short' }, { role: 'gateway' })).toThrow(/P2_CHALLENGE_KEY must be 32 bytes/);
    });

    it('the certstore needs P2_KEY_ENCRYPTION_KEY and never reads P2_TOKEN_KEY or P2_CHALLENGE_KEY', () => {
      expect(() => loadConfig(production, { role: 'certstore' })).toThrow(/P2_KEY_ENCRYPTION_KEY is required in production/);
      expect(() => loadConfig(production, { role: 'certstore' })).not.toThrow(/P2_TOKEN_KEY|P2_CHALLENGE_KEY/);
      const certstore = loadConfig({ ...production, P2_TOKEN_KEY: 'cd'.repeat(32), P2_CHALLENGE_KEY: 'ef'.repeat(32), P2_KEY_ENCRYPTION_KEY: 'ab'.repeat(32) }, { role: 'certstore' });
      expect(certstore.tokenKey).toBeUndefined();
      expect(certstore.challengeKey).toBeUndefined();
      expect(() => requireChallengeKey(certstore)).toThrow(ConfigError);
      expect(requireKeyEncryptionKey(certstore).toString('hex')).toBe('ab'.repeat(32));
    });

    it("the gateway connects as its read-only role by default; the gateway role's password is the certstore's to set (docs/architecture.md#database-roles)", () => {
      const keys = { P2_TOKEN_KEY: 'cd'.repeat(32), P2_CHALLENGE_KEY: 'ef'.repeat(32), P2_KEY_ENCRYPTION_KEY: 'ab'.repeat(32) };
      expect(loadConfig({ ...production, ...keys }, { role: 'gateway' }).databaseUrl).toBe('postgres://polyproto_gateway@127.0.0.1:5432/polyproto');
      expect(loadConfig({ ...production, ...keys }, { role: 'certstore' }).databaseUrl).toBe('postgres://postgres@127.0.0.1:5432/polyproto');
      const password = 'Gw.pass_word~0123-456';
      expect(loadConfig({ ...production, ...keys, P2_GATEWAY_DB_PASSWORD: password }, { role: 'certstore' }).gatewayDbPassword).toBe(password);
      expect(loadConfig({ ...production, ...keys, P2_GATEWAY_DB_PASSWORD: password }, { role: 'gateway' }).gatewayDbPassword).toBeUndefined();
      expect(() => loadConfig({ ...production, ...keys, P2_GATEWAY_DB_PASSWORD: 'short' }, { role: 'certstore' })).toThrow(/P2_GATEWAY_DB_PASSWORD must be 16 to 128/);
      expect(() => loadConfig({ ...production, ...keys, P2_GATEWAY_DB_PASSWORD: 'has@an:url/char-123456' }, { role: 'certstore' })).toThrow(/P2_GATEWAY_DB_PASSWORD/);
    });

    it('`npm run migrate` reads DATABASE_URL and P2_GATEWAY_DB_PASSWORD only: in production it demands no key, elsewhere it writes no key file', () => {
      const dir = mkdtempSync(join(tmpdir(), 'p2-migrate-'));
      try {
        const devFiles = { P2_DEV_KEK_FILE: join(dir, 'kek'), P2_DEV_TOKEN_KEY_FILE: join(dir, 'token'), P2_DEV_CHALLENGE_KEY_FILE: join(dir, 'challenge') };
        expect(loadMigrationConfig(production)).toEqual({ databaseUrl: 'postgres://postgres@127.0.0.1:5432/polyproto' });
        expect(loadMigrationConfig({ ...devFiles })).toEqual({ databaseUrl: 'postgres://postgres@127.0.0.1:5432/polyproto' });
        expect(readdirSync(dir)).toEqual([]);
        const password = 'Gw.pass_word~0123-456';
        expect(loadMigrationConfig({ ...production, DATABASE_URL: 'postgres://owner@db:5432/p2', P2_GATEWAY_DB_PASSWORD: password })).toEqual({ databaseUrl: 'postgres://owner@db:5432/p2', gatewayDbPassword: password });
        expect(() => loadMigrationConfig({ P2_GATEWAY_DB_PASSWORD: 'short' })).toThrow(ConfigError);
        expect(() => loadMigrationConfig({ DATABASE_URL: 'mysql://db' })).toThrow(/DATABASE_URL must be a postgres/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('the environment each started process is given (environmentOf)', () => {
    const secrets = {
      P2_KEY_ENCRYPTION_KEY: 'ab'.repeat(32),
      P2_TOKEN_KEY: 'cd'.repeat(32),
      P2_CHALLENGE_KEY: 'ef'.repeat(32),
      P2_GATEWAY_DB_PASSWORD: 'Gw.pass_word~0123-456',
      P2_METRICS_TOKEN: 'metrics-token-0123456789',
      DATABASE_URL: 'postgres://owner:owner-password@127.0.0.1:5432/polyproto',
      P2_ADMIN_PASSWORD: 'correct horse battery staple',
    };
    const everything = { KAFKA_BROKERS: '127.0.0.1:9092', NODE_ENV: 'production', P2_DOMAIN: 'example.com', ...secrets };

    it('names every secret variable the configuration knows (a new one needs its line there)', () => {
      expect(Object.keys(SECRET_VARIABLES).sort()).toEqual(Object.keys(secrets).sort());
    });

    it("keeps each app's own secrets, enough for loadConfig of its role in production, and none of the other's", () => {
      const gatewayEnv = environmentOf(everything, 'gateway');
      expect(Object.keys(gatewayEnv).filter((name) => name in secrets).sort()).toEqual(['DATABASE_URL', 'P2_CHALLENGE_KEY', 'P2_METRICS_TOKEN', 'P2_TOKEN_KEY']);
      const gateway = loadConfig(gatewayEnv, { role: 'gateway' });
      expect([gateway.tokenKey?.toString('hex'), gateway.challengeKey?.toString('hex'), gateway.observability.metricsToken]).toEqual([secrets.P2_TOKEN_KEY, secrets.P2_CHALLENGE_KEY, secrets.P2_METRICS_TOKEN]);

      const certstoreEnv = environmentOf(everything, 'certstore');
      expect(Object.keys(certstoreEnv).filter((name) => name in secrets).sort()).toEqual(['DATABASE_URL', 'P2_GATEWAY_DB_PASSWORD', 'P2_KEY_ENCRYPTION_KEY', 'P2_METRICS_TOKEN']);
      const certstore = loadConfig(certstoreEnv, { role: 'certstore' });
      expect([certstore.keyEncryptionKey?.toString('hex'), certstore.gatewayDbPassword, certstore.databaseUrl]).toEqual([secrets.P2_KEY_ENCRYPTION_KEY, secrets.P2_GATEWAY_DB_PASSWORD, secrets.DATABASE_URL]);

      expect(loadMigrationConfig(environmentOf(everything, 'migrate'))).toEqual({ databaseUrl: secrets.DATABASE_URL, gatewayDbPassword: secrets.P2_GATEWAY_DB_PASSWORD });
      expect(Object.keys(environmentOf(everything, 'migrate')).filter((name) => name in secrets).sort()).toEqual(['DATABASE_URL', 'P2_GATEWAY_DB_PASSWORD']);
    });

    it('gives the broker, the cluster guard and the load runner no secret, and keeps every other variable as it is', () => {
      for (const helper of ['broker', 'guard', 'bench'] as const) {
        expect(environmentOf(everything, helper)).toEqual({ KAFKA_BROKERS: '127.0.0.1:9092', NODE_ENV: 'production', P2_DOMAIN: 'example.com' });
      }
      expect(everything).toEqual(expect.objectContaining(secrets));
    });
  });

  it('generates one development key with a loud warning, then reuses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2-kek-'));
    try {
      const warnings: string[] = [];
      const file = join(dir, 'dev-kek');
      const tokenFile = join(dir, 'dev-token-key');
      const challengeFile = join(dir, 'dev-challenge-key');
      const files = { devKekFile: file, devTokenKeyFile: tokenFile, devChallengeKeyFile: challengeFile };
      const first = loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092' }, { ...files, warn: (m) => warnings.push(m) });
      const second = loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092' }, { ...files, warn: (m) => warnings.push(m) });
      expect(requireKeyEncryptionKey(first).equals(requireKeyEncryptionKey(second))).toBe(true);
      expect(readFileSync(file, 'utf8').trim()).toBe(requireKeyEncryptionKey(first).toString('hex'));
      expect(requireTokenKey(first).equals(requireTokenKey(second))).toBe(true);
      expect(readFileSync(tokenFile, 'utf8').trim()).toBe(requireTokenKey(first).toString('hex'));
      expect(requireTokenKey(first).equals(requireKeyEncryptionKey(first))).toBe(false);
      expect(requireChallengeKey(first).equals(requireChallengeKey(second))).toBe(true);
      expect(readFileSync(challengeFile, 'utf8').trim()).toBe(requireChallengeKey(first).toString('hex'));
      expect(requireChallengeKey(first).equals(requireTokenKey(first))).toBe(false);
      expect(warnings[0]).toMatch(/WARNING.*DEVELOPMENT/s);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the key material limits: P2_KEYMATERIAL_MAX_ITEMS defaults to 64 and must be a whole number from 1', () => {
    expect(loadConfig(base).keyMaterialMaxItems).toBe(64);
    expect(loadConfig({ ...base, P2_KEYMATERIAL_MAX_ITEMS: '3', P2_KEYMATERIAL_MAX_BYTES: '800' })).toEqual(
      expect.objectContaining({ keyMaterialMaxItems: 3, keyMaterialMaxBytes: 800 }),
    );
    for (const bad of ['0', 'many', '-1', '100001']) {
      expect(() => loadConfig({ ...base, P2_KEYMATERIAL_MAX_ITEMS: bad })).toThrow(/P2_KEYMATERIAL_MAX_ITEMS/);
    }
  });

  it('keeps P2_KEYMATERIAL_MAX_BYTES where an item (sealed, in its event) and a request of four (one command) fit a Kafka message', () => {
    expect(loadConfig({ ...base, P2_KEYMATERIAL_MAX_BYTES: String(192 * 1024) }).keyMaterialMaxBytes).toBe(192 * 1024);
    // 1 MiB was accepted: two such items were a 503 that no retry mended, and one item's event
    // stopped the event relay for good (the broker refuses a message over 1 MiB)
    for (const bad of [String(192 * 1024 + 1), String(1024 * 1024), '0']) {
      expect(() => loadConfig({ ...base, P2_KEYMATERIAL_MAX_BYTES: bad })).toThrow(/P2_KEYMATERIAL_MAX_BYTES must be between 1 and 196608/);
    }
  });

  it('maps LOG_LEVEL onto Nest logger levels', () => {
    expect(nestLogLevels('error')).toEqual(['fatal', 'error']);
    expect(nestLogLevels('info')).toEqual(['fatal', 'error', 'warn', 'log']);
    expect(nestLogLevels('debug')).toEqual(['fatal', 'error', 'warn', 'log', 'debug']);
  });
});

describe('WebSocket gateway settings (P2_WS_*)', () => {
  it('defaults to a 45 s heartbeat, 10 s tolerance and identify deadline, 1000 messages / 1 MiB per socket, a 60 s key-change spread, a token check every 5 min', () => {
    expect(loadConfig(base).liveEvents).toEqual({
      heartbeatIntervalMs: 45000,
      heartbeatToleranceMs: 10000,
      identifyTimeoutMs: 10000,
      queueMaxMessages: 1000,
      queueMaxBytes: 1048576,
      keyChangeSpreadMs: 60000,
      tokenCheckIntervalMs: 300000,
    });
  });

  it('reads them and reports every invalid one', () => {
    expect(loadConfig({ ...base, P2_WS_HEARTBEAT_INTERVAL_MS: '30000', P2_WS_KEY_CHANGE_SPREAD_MS: '0' }).liveEvents).toEqual(
      expect.objectContaining({ heartbeatIntervalMs: 30000, keyChangeSpreadMs: 0 }),
    );
    let error: unknown;
    try {
      loadConfig({ ...base, P2_WS_HEARTBEAT_INTERVAL_MS: '10', P2_WS_QUEUE_MAX_BYTES: '1kb', P2_WS_QUEUE_MAX_MESSAGES: '0', P2_WS_IDENTIFY_TIMEOUT_MS: '-1', P2_WS_TOKEN_CHECK_INTERVAL_MS: '999' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['P2_WS_HEARTBEAT_INTERVAL_MS', 'P2_WS_QUEUE_MAX_BYTES', 'P2_WS_QUEUE_MAX_MESSAGES', 'P2_WS_IDENTIFY_TIMEOUT_MS', 'P2_WS_TOKEN_CHECK_INTERVAL_MS']) expect(problems).toContain(name);
  });
});

describe('operating settings (telemetry, metrics, logs)', () => {
  it('defaults to a 5 s telemetry interval, open /metrics, pretty logs in development at a terminal and JSON elsewhere', () => {
    const terminal = { stdoutIsTerminal: true };
    expect(loadConfig(base, terminal).observability).toEqual({ telemetryIntervalMs: 5000, logFormat: 'pretty' });
    expect(loadConfig(base, { stdoutIsTerminal: false }).observability.logFormat).toBe('json');
    expect(loadConfig({ ...base, NODE_ENV: 'production' }, terminal).observability.logFormat).toBe('json');
    expect(loadConfig({ ...base, NODE_ENV: 'test' }, terminal).observability.logFormat).toBe('json');
    expect(loadConfig({ ...base, P2_LOG_FORMAT: 'pretty' }, { stdoutIsTerminal: false }).observability.logFormat).toBe('pretty');
    // a log file is read by programs, even when the process was started at a terminal
    expect(loadConfig({ ...base, P2_LOG_FILE: '/tmp/p2.log' }, terminal).observability.logFormat).toBe('json');
    expect(loadConfig({ ...base, P2_LOG_FILE: '/tmp/p2.log', P2_LOG_FORMAT: 'pretty' }, terminal).observability.logFormat).toBe('pretty');
  });

  it('reads them and reports every invalid one', () => {
    expect(loadConfig({ ...base, P2_TELEMETRY_INTERVAL_MS: '250', P2_METRICS_TOKEN: 'a-token-of-sixteen+', P2_LOG_FORMAT: 'json', P2_LOG_FILE: '/var/log/p2.log' }).observability).toEqual({
      telemetryIntervalMs: 250,
      metricsToken: 'a-token-of-sixteen+',
      logFormat: 'json',
      logFile: '/var/log/p2.log',
    });
    let error: unknown;
    try {
      loadConfig({ ...base, P2_TELEMETRY_INTERVAL_MS: '10', P2_METRICS_TOKEN: 'short', P2_LOG_FORMAT: 'xml' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['P2_TELEMETRY_INTERVAL_MS', 'P2_METRICS_TOKEN', 'P2_LOG_FORMAT']) expect(problems).toContain(name);
  });

  it("listens with the certstore's health and metrics port on loopback unless CERTSTORE_HOST names another address", () => {
    expect(loadConfig(base).certstoreHost).toBe('127.0.0.1');
    for (const host of ['0.0.0.0', '::', '10.1.2.3']) expect(loadConfig({ ...base, CERTSTORE_HOST: host }).certstoreHost).toBe(host);
    for (const host of ['certstore-1', '0.0.0.0:3001', 'http://0.0.0.0']) expect(() => loadConfig({ ...base, CERTSTORE_HOST: host })).toThrow(/CERTSTORE_HOST/);
  });
});
