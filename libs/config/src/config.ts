import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isIP } from 'node:net';
import { readsSecret } from './process-env';

/** Configuration shared by both apps, read from the environment once at start-up and validated;
 * every problem is reported at once and the process refuses to start. */
export interface AppConfig {
  readonly nodeEnv: 'development' | 'production' | 'test';
  readonly port: number;
  readonly certstorePort: number;
  /** CERTSTORE_HOST: the address the certstore's port (health and metrics only) listens on */
  readonly certstoreHost: string;
  readonly domain: string;
  readonly publicUrl: string;
  readonly kafkaBrokers: readonly string[];
  readonly kafkaTopicPrefix: string;
  readonly databaseUrl: string;
  /** P2_KEY_ENCRYPTION_KEY: read by the certstore (and p2ctl) only; a gateway's configuration never
   * holds it (docs/architecture.md#secrets). Use {@link requireKeyEncryptionKey}. */
  readonly keyEncryptionKey?: Buffer;
  /** P2_TOKEN_KEY: the gateway's key for session tokens retried under an Idempotency-Key; read by the
   * gateway only. Use {@link requireTokenKey}. */
  readonly tokenKey?: Buffer;
  /** P2_CHALLENGE_KEY: the gateway's key for signing GET /challenge strings, so that issuing one
   * writes nothing (docs/protocol.md#challenge-strings); read by the gateway only. Use {@link requireChallengeKey}. */
  readonly challengeKey?: Buffer;
  /** P2_GATEWAY_DB_PASSWORD: the password the migrations give the gateway's database role; read by
   * the certstore (which migrates) only: the gateway has it in its own DATABASE_URL
   * (docs/architecture.md#database-roles). */
  readonly gatewayDbPassword?: string;
  readonly admins: readonly string[];
  readonly keyMaterialMaxBytes: number;
  /** P2_KEYMATERIAL_MAX_ITEMS: most encrypted key material items one actor may store (docs/protocol.md#key-material-slots) */
  readonly keyMaterialMaxItems: number;
  readonly idCertLifetimeDays: number;
  readonly serverCertLifetimeDays: number;
  readonly rootPathLenZero: boolean;
  readonly replyTimeoutMs: number;
  /** P2_COMMAND_SEND_TIMEOUT_MS: most time a gateway waits for Kafka to take a command (capped by
   * the reply deadline): a broker that is away answers 503 sooner than the reply deadline */
  readonly commandSendTimeoutMs: number;
  /** P2_KAFKA_SESSION_TIMEOUT_MS: how long the group coordinator waits for a silent certstore (or a
   * gateway's reply reader) before its partitions move: the shorter, the sooner a crash is over */
  readonly kafkaSessionTimeoutMs: number;
  /** P2_KAFKA_HEARTBEAT_INTERVAL_MS: how often those consumers tell the coordinator they live (at
   * most a third of the session timeout) */
  readonly kafkaHeartbeatIntervalMs: number;
  /** P2_COMMAND_RETRY_MAX_DELAY_MS: longest wait between attempts of a batch while PostgreSQL is
   * unavailable (the batch is held, never dead-lettered, until it is back) */
  readonly commandRetryMaxDelayMs: number;
  /** P2_DB_STATEMENT_TIMEOUT_MS: PostgreSQL's statement_timeout on this process's connections
   * (default 5000 on a gateway, 15000 on a certstore). A statement cancelled by it is answered 503
   * by a gateway and held and retried by a certstore, like an outage (docs/architecture.md#postgres-busy) */
  readonly databaseStatementTimeoutMs: number;
  /** P2_COMMAND_CONCURRENCY: command partitions one certstore handles at once, each batch in a
   * PostgreSQL transaction of its own (the certstore's connection pool is sized from it) */
  readonly commandConcurrency: number;
  /** P2_COMMAND_LINGER_MS: how long a gateway may hold a command to send it with others in one
   * produce request while one is already in flight (an idle gateway sends at once) */
  readonly commandLingerMs: number;
  /** P2_REPLY_PARTITION: the replies partition this gateway reads; default: the partition its
   * instance id hashes to (Kafka's default partitioner) */
  readonly replyPartition?: number;
  /** P2_PROCESSED_COMMANDS_RETENTION_HOURS: how long a certstore keeps the outcome of a processed
   * command to answer its duplicates; longer than any retry, redelivery or DLQ replay */
  readonly processedCommandsRetentionHours: number;
  /** P2_CHALLENGE_TTL_SECONDS: lifetime of a GET /challenge string (default 300 s, docs/protocol.md#challenge-strings), 1 to 3600 */
  readonly challengeTtlSeconds: number;
  /** P2_PASSWORD_SCRYPT_COST: log2 of scrypt's N for new password hashes (r = 8, p = 1); 17 by default
   * and at least 17 in production; lower only to make test suites fast */
  readonly passwordScryptCost: number;
  readonly instanceId: string;
  readonly logLevel: 'error' | 'warn' | 'info' | 'debug';
  /** Operating the cluster (P2_TELEMETRY_INTERVAL_MS, P2_METRICS_TOKEN, P2_LOG_FORMAT, P2_LOG_FILE). */
  readonly observability: ObservabilityConfig;
  /** The WebSocket gateway (P2_WS_*): heartbeats, identify deadline, send-queue bound, key-change spread. */
  readonly liveEvents: LiveEventsConfig;
  /** Actors of other home servers (P2_FEDERATION_*): discovery, HTTP limits, caching, refresh. */
  readonly federation: FederationConfig;
  /** The gateway's in-memory caches of hot answers and session tokens (P2_READ_CACHE_*, P2_TOKEN_CACHE_*). */
  readonly readCache: ReadCacheConfig;
  /** The gateway's HTTP server (P2_HTTP_*): timeouts of slow clients and a connection cap. */
  readonly httpServer: HttpServerConfig;
  /** Per-gateway request limits and the lock-out after wrong passwords (P2_RATE_LIMIT*, P2_LOGIN_LOCKOUT_*). */
  readonly rateLimits: RateLimitsConfig;
}

/** Requests per minute from one client address and for one actor. */
export interface RateLimitPair {
  readonly perAddress: number;
  readonly perActor: number;
}

/** Limits of one gateway process (docs/protocol.md#rate-limits). */
export interface RateLimitsConfig {
  /** P2_RATE_LIMITS_ENABLED: off only where something in front of the gateway limits (or in benchmarks). */
  readonly enabled: boolean;
  /** P2_RATE_LIMIT_REGISTER: `POST /register` (the actor is the requested name). */
  readonly register: RateLimitPair;
  /** P2_RATE_LIMIT_SESSION: `POST /session/trust`. */
  readonly session: RateLimitPair;
  /** P2_RATE_LIMIT_IDENTIFY: `POST /session/identify`, and `PUT`/`POST /session/idcert/extern` in buckets of their own. */
  readonly identify: RateLimitPair;
  /** P2_RATE_LIMIT_CHALLENGE: `GET /challenge` (the actor is the bound `fid`, when given). */
  readonly challenge: RateLimitPair;
  /** P2_RATE_LIMIT_SENSITIVE: actions checked with `X-P2-Sensitive-Solution`. */
  readonly sensitive: RateLimitPair;
  /** P2_RATE_LIMIT_KEYPACKAGE_CLAIM: `GET /keypackage/:fid` (the actor is the claimer). */
  readonly keyPackageClaim: RateLimitPair;
  /** P2_RATE_LIMIT_KEYPACKAGE_TARGET: claims of one actor's KeyPackages, by everyone together and by one claimer. */
  readonly keyPackageTarget: { readonly perTarget: number; readonly perClaimer: number };
  /** P2_LOGIN_LOCKOUT_AFTER: wrong passwords in a row after which an actor is locked out. */
  readonly lockoutAfter: number;
  /** P2_LOGIN_LOCKOUT_BASE_SECONDS: the first lock-out; doubled with each further wrong password. */
  readonly lockoutBaseSeconds: number;
  /** P2_LOGIN_LOCKOUT_MAX_SECONDS: the longest lock-out. */
  readonly lockoutMaxSeconds: number;
}

/** Bounds on what one client may hold of a gateway's HTTP server (docs/protocol.md#abuse-limits). */
export interface HttpServerConfig {
  /** P2_HTTP_HEADERS_TIMEOUT_MS: a request whose headers are not complete by then is answered 408 and closed. */
  readonly headersTimeoutMs: number;
  /** P2_HTTP_REQUEST_TIMEOUT_MS: a request whose body is not complete by then is answered 408 and closed. */
  readonly requestTimeoutMs: number;
  /** P2_HTTP_KEEP_ALIVE_TIMEOUT_MS: an idle kept-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** P2_HTTP_IDLE_TIMEOUT_MS: a connection on which nothing moves for this long is closed (WebSockets excepted: they have heartbeats). */
  readonly idleTimeoutMs: number;
  /** P2_HTTP_MAX_CONNECTIONS: connections past this many open ones are closed at once. */
  readonly maxConnections: number;
  /** P2_TRUST_PROXY: which peers' `X-Forwarded-For` names the client (docs/protocol.md#client-address). */
  readonly trustProxy: TrustProxy;
}

/**
 * Whose `X-Forwarded-For` the gateway believes: `false`, nobody's (the client is the connection's
 * peer); a number n, the last n hops (the proxies in front, each appending what it saw); a list of
 * addresses and CIDR ranges, those peers; `true`, every hop, so the first address of the header is the
 * client's (only where the one proxy in front overwrites the header and nothing else reaches the gateway).
 */
export type TrustProxy = boolean | number | readonly string[];

/** The gateway's caches (docs/architecture.md#read-cache). */
export interface ReadCacheConfig {
  /** P2_READ_CACHE_ENTRIES: most answers of the certificate reads kept in memory (LRU); 0 switches the cache off. */
  readonly entries: number;
  /** P2_READ_CACHE_MAX_AGE_MS: longest a cached answer is served, even if no event says it changed. */
  readonly maxAgeMs: number;
  /** P2_TOKEN_CACHE_ENTRIES: most session tokens whose lookup is kept (LRU); 0 switches the token cache off. */
  readonly tokenEntries: number;
  /** P2_TOKEN_CACHE_TTL_MS: longest a token lookup is reused before the database is asked again. */
  readonly tokenTtlMs: number;
}

/** Settings of federation (docs/protocol.md#federation). */
export interface FederationConfig {
  /** P2_FEDERATION_ENABLED: foreign actors may sign in here; when off, their certs are 404 P2CORE_NOT_FEDERATED. */
  readonly enabled: boolean;
  /** P2_FEDERATION_RESOLVE: domain → API base (`…/.p2/core/`), in place of DNS and .well-known; the
   * only names that may be reached over plain http or at private addresses. A Map: it is looked up
   * with domains of presented certs, and a plain object would answer `constructor` or `__proto__`. */
  readonly resolve: ReadonlyMap<string, string>;
  /** P2_FEDERATION_CONNECT_TIMEOUT_MS: most time to open a connection to another home server. */
  readonly connectTimeoutMs: number;
  /** P2_FEDERATION_TIMEOUT_MS: most time for one whole request to another home server. */
  readonly requestTimeoutMs: number;
  /** P2_FEDERATION_MAX_RESPONSE_BYTES: largest answer read from another home server. */
  readonly maxResponseBytes: number;
  /** P2_FEDERATION_REFRESH_SECONDS: how often the elected gateway re-checks the foreign certs of live sessions. */
  readonly refreshSeconds: number;
  /** P2_FEDERATION_CACHE_MAX_SECONDS: longest a foreign root or cert status is used without asking its home server again. */
  readonly cacheMaxSeconds: number;
}

/** Telemetry, metrics and logs. */
export interface ObservabilityConfig {
  /** P2_TELEMETRY_INTERVAL_MS: how often a process publishes its snapshot to the telemetry topic. */
  readonly telemetryIntervalMs: number;
  /** P2_METRICS_TOKEN: when set, GET /metrics needs `Authorization: Bearer <it>` (a gateway's port is public). */
  readonly metricsToken?: string;
  /** P2_LOG_FORMAT: `json` (one object per line) or `pretty` (for people); default pretty in development at a terminal. */
  readonly logFormat: 'json' | 'pretty';
  /** P2_LOG_FILE: append log lines to this file instead of standard output. */
  readonly logFile?: string;
}

/** Settings of the WebSocket gateway at /.p2/core/v1/gateway. */
export interface LiveEventsConfig {
  /** P2_WS_HEARTBEAT_INTERVAL_MS: announced in Hello; clients send a Heartbeat this often (2025 text: 30–60 s). */
  readonly heartbeatIntervalMs: number;
  /** P2_WS_HEARTBEAT_TOLERANCE_MS: silence past interval + this gets a Heartbeat Request (op 11);
   * past interval + twice this, the socket is closed (4009). */
  readonly heartbeatToleranceMs: number;
  /** P2_WS_IDENTIFY_TIMEOUT_MS: a socket that has not identified or resumed by then is closed (4003). */
  readonly identifyTimeoutMs: number;
  /** P2_WS_QUEUE_MAX_MESSAGES: most messages written to one socket and not yet taken by the kernel. */
  readonly queueMaxMessages: number;
  /** P2_WS_QUEUE_MAX_BYTES: most bytes buffered for one socket (ws bufferedAmount); past either bound the socket is closed (4009, resumable). */
  readonly queueMaxBytes: number;
  /** P2_WS_KEY_CHANGE_SPREAD_MS: a server key rotation reaches the connected sessions spread over this window. */
  readonly keyChangeSpreadMs: number;
  /** P2_WS_TOKEN_CHECK_INTERVAL_MS: a socket's token is looked up again at its first heartbeat this
   * long after the last lookup, should every event that ended it have been missed. */
  readonly tokenCheckIntervalMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/polyproto';
/** The gateway's default: the same database as its read-only role, which the migrations create
 * (`<database>_gateway`, docs/architecture.md#database-roles). */
export const DEFAULT_GATEWAY_DATABASE_URL = 'postgres://polyproto_gateway@127.0.0.1:5432/polyproto';
export const DEV_KEK_FILE = '.p2-dev-kek';
export const DEV_TOKEN_KEY_FILE = '.p2-dev-token-key';
export const DEV_CHALLENGE_KEY_FILE = '.p2-dev-challenge-key';

const DOMAIN_RE = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const LOCAL_NAME_RE = /^[a-z0-9._%+-]{1,64}$/;

/** Which process reads the configuration: each reads only its own secrets. `all` (tests, tools)
 * reads both keys. */
export type ConfigRole = 'gateway' | 'certstore' | 'all';

export interface LoadConfigOptions {
  readonly role?: ConfigRole;
  /** Where the development key-encryption key lives when P2_KEY_ENCRYPTION_KEY is absent. */
  readonly devKekFile?: string;
  /** Where the development token key lives when P2_TOKEN_KEY is absent. */
  readonly devTokenKeyFile?: string;
  /** Where the development challenge key lives when P2_CHALLENGE_KEY is absent. */
  readonly devChallengeKeyFile?: string;
  readonly warn?: (message: string) => void;
  /** Whether the process writes its log to a terminal (default: `process.stdout.isTTY`): the
   * development log format is pretty only there. */
  readonly stdoutIsTerminal?: boolean;
}

export function loadConfig(env: Env = process.env, options: LoadConfigOptions = {}): AppConfig {
  const problems: string[] = [];
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'production', 'test'] as const, 'development', problems);
  const port = integer(env, 'PORT', 3000, 0, 65535, problems);
  const certstorePort = integer(env, 'CERTSTORE_PORT', 3001, 0, 65535, problems);
  // loopback unless an operator opens it, e.g. for a Prometheus on a container network
  const certstoreHost = env.CERTSTORE_HOST?.trim() || '127.0.0.1';
  if (isIP(certstoreHost) === 0) problems.push(`CERTSTORE_HOST "${certstoreHost}" must be an IP address to listen on (127.0.0.1, 0.0.0.0, ::)`);
  const domain = readDomain(env, problems);
  const publicUrl = (env.P2_PUBLIC_URL?.trim() || defaultPublicUrl(domain, port)).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(publicUrl)) problems.push(`P2_PUBLIC_URL "${publicUrl}" must be an absolute http(s) URL`);
  const kafkaBrokers = readKafkaBrokers(env, problems);
  const kafkaTopicPrefix = readTopicPrefix(env, problems);
  const role = options.role ?? 'all';
  const databaseUrl = readDatabaseUrl(env, role === 'gateway' ? DEFAULT_GATEWAY_DATABASE_URL : DEFAULT_DATABASE_URL, problems);
  const admins = readAdmins(env, problems);
  // Each item travels in one event (sealed: a third larger), which must stay under Kafka's 1 MiB
  // message limit. The gateway takes bodies of four items (its body limit), but refuses a command
  // over 512 KiB with a 413 (MAX_COMMAND_BYTES): above ~120 KiB, four full items take two requests.
  const keyMaterialMaxBytes = integer(env, 'P2_KEYMATERIAL_MAX_BYTES', 10240, 1, KEY_MATERIAL_MAX_BYTES_LIMIT, problems);
  const keyMaterialMaxItems = integer(env, 'P2_KEYMATERIAL_MAX_ITEMS', 64, 1, 100000, problems);
  const idCertLifetimeDays = integer(env, 'P2_IDCERT_LIFETIME_DAYS', 30, 1, 3650, problems);
  const serverCertLifetimeDays = integer(env, 'P2_SERVER_CERT_LIFETIME_DAYS', 365, 1, 3650, problems);
  const rootPathLenZero = boolean(env, 'P2_ROOT_PATHLEN_ZERO', false, problems);
  const replyTimeoutMs = integer(env, 'P2_REPLY_TIMEOUT_MS', 10000, 50, 120000, problems);
  const commandSendTimeoutMs = integer(env, 'P2_COMMAND_SEND_TIMEOUT_MS', 5000, 50, 120000, problems);
  // the broker's group.min.session.timeout.ms is 6 s by default: a shorter one is refused at join
  const kafkaSessionTimeoutMs = integer(env, 'P2_KAFKA_SESSION_TIMEOUT_MS', 6000, 6000, 300000, problems);
  const kafkaHeartbeatIntervalMs = integer(env, 'P2_KAFKA_HEARTBEAT_INTERVAL_MS', 1000, 100, 100000, problems);
  if (kafkaHeartbeatIntervalMs * 3 > kafkaSessionTimeoutMs) problems.push('P2_KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third of P2_KAFKA_SESSION_TIMEOUT_MS');
  const commandRetryMaxDelayMs = integer(env, 'P2_COMMAND_RETRY_MAX_DELAY_MS', 2000, 100, 60000, problems);
  // a gateway answers a client waiting on it, a certstore holds a batch of commands in one transaction
  const databaseStatementTimeoutMs = integer(env, 'P2_DB_STATEMENT_TIMEOUT_MS', role === 'gateway' ? 5000 : 15000, 100, 600000, problems);
  const challengeTtlSeconds = integer(env, 'P2_CHALLENGE_TTL_SECONDS', 300, 1, 3600, problems);
  const processedCommandsRetentionHours = integer(env, 'P2_PROCESSED_COMMANDS_RETENTION_HOURS', 336, 1, 87600, problems);
  const passwordScryptCost = integer(env, 'P2_PASSWORD_SCRYPT_COST', 17, 14, 20, problems);
  if (nodeEnv === 'production' && passwordScryptCost < 17) problems.push('P2_PASSWORD_SCRYPT_COST must be at least 17 in production (scrypt N = 2^17)');
  const commandConcurrency = integer(env, 'P2_COMMAND_CONCURRENCY', 4, 1, 64, problems);
  const commandLingerMs = integer(env, 'P2_COMMAND_LINGER_MS', 2, 0, 50, problems);
  const replyPartition = env.P2_REPLY_PARTITION?.trim() ? integer(env, 'P2_REPLY_PARTITION', 0, 0, 9999, problems) : undefined;
  const instanceId = env.P2_INSTANCE_ID?.trim() || randomUUID();
  if (!/^[a-zA-Z0-9._-]{1,100}$/.test(instanceId)) problems.push('P2_INSTANCE_ID may only contain [a-zA-Z0-9._-]');
  const logLevel = oneOf(env, 'LOG_LEVEL', ['error', 'warn', 'info', 'debug'] as const, 'info', problems);
  // a secret of another role is not even looked at: the list of who reads what is SECRET_VARIABLES
  const reads = (variable: string): boolean => role === 'all' || readsSecret(role, variable);
  const keyEncryptionKey = reads(KEK.variable) ? loadKey(env, nodeEnv, options, problems, KEK) : undefined;
  const tokenKey = reads(TOKEN_KEY.variable) ? loadKey(env, nodeEnv, options, problems, TOKEN_KEY) : undefined;
  const challengeKey = reads(CHALLENGE_KEY.variable) ? loadKey(env, nodeEnv, options, problems, CHALLENGE_KEY) : undefined;
  const gatewayDbPassword = reads('P2_GATEWAY_DB_PASSWORD') ? readGatewayDbPassword(env, problems) : undefined;
  const metricsToken = env.P2_METRICS_TOKEN?.trim() || undefined;
  // compared as a bearer token: short ones could be guessed, and a header cannot carry every character
  if (metricsToken !== undefined && !/^[\x21-\x7e]{16,512}$/.test(metricsToken)) problems.push('P2_METRICS_TOKEN must be 16 to 512 printable ASCII characters without spaces');
  const logFile = env.P2_LOG_FILE?.trim() || undefined;
  const observability: ObservabilityConfig = {
    telemetryIntervalMs: integer(env, 'P2_TELEMETRY_INTERVAL_MS', 5000, 100, 600000, problems),
    // Pretty lines are for a person at a terminal. Written to a file or a pipe (a log shipper, a
    // supervisor, the bench's cluster log) they are only slower: formatting them in the event
    // loop took a tenth of the gateway's CPU per write (docs/benchmarks.md#where-the-time-goes).
    // pretty only where a person reads the lines as they come: a terminal, not a file (P2_LOG_FILE)
    logFormat: oneOf(env, 'P2_LOG_FORMAT', ['json', 'pretty'] as const, nodeEnv === 'development' && !logFile && (options.stdoutIsTerminal ?? process.stdout.isTTY === true) ? 'pretty' : 'json', problems),
    ...(metricsToken === undefined ? {} : { metricsToken }),
    ...(logFile === undefined ? {} : { logFile }),
  };
  const liveEvents: LiveEventsConfig = {
    heartbeatIntervalMs: integer(env, 'P2_WS_HEARTBEAT_INTERVAL_MS', 45000, 100, 600000, problems),
    heartbeatToleranceMs: integer(env, 'P2_WS_HEARTBEAT_TOLERANCE_MS', 10000, 50, 600000, problems),
    identifyTimeoutMs: integer(env, 'P2_WS_IDENTIFY_TIMEOUT_MS', 10000, 100, 600000, problems),
    queueMaxMessages: integer(env, 'P2_WS_QUEUE_MAX_MESSAGES', 1000, 1, 1000000, problems),
    queueMaxBytes: integer(env, 'P2_WS_QUEUE_MAX_BYTES', 1024 * 1024, 4096, 256 * 1024 * 1024, problems),
    keyChangeSpreadMs: integer(env, 'P2_WS_KEY_CHANGE_SPREAD_MS', 60000, 0, 3600000, problems),
    tokenCheckIntervalMs: integer(env, 'P2_WS_TOKEN_CHECK_INTERVAL_MS', 300000, 1000, 86400000, problems),
  };

  const federation: FederationConfig = {
    enabled: boolean(env, 'P2_FEDERATION_ENABLED', true, problems),
    resolve: federationResolve(env.P2_FEDERATION_RESOLVE ?? '', domain, problems),
    connectTimeoutMs: integer(env, 'P2_FEDERATION_CONNECT_TIMEOUT_MS', 3000, 50, 60000, problems),
    requestTimeoutMs: integer(env, 'P2_FEDERATION_TIMEOUT_MS', 5000, 100, 120000, problems),
    maxResponseBytes: integer(env, 'P2_FEDERATION_MAX_RESPONSE_BYTES', 262144, 1024, 16 * 1024 * 1024, problems),
    refreshSeconds: integer(env, 'P2_FEDERATION_REFRESH_SECONDS', 300, 1, 86400, problems),
    cacheMaxSeconds: integer(env, 'P2_FEDERATION_CACHE_MAX_SECONDS', 43200, 1, 604800, problems),
  };

  const trustProxy = trustProxyOf(env, problems);
  const httpServer: HttpServerConfig = {
    headersTimeoutMs: integer(env, 'P2_HTTP_HEADERS_TIMEOUT_MS', 10000, 100, 600000, problems),
    requestTimeoutMs: integer(env, 'P2_HTTP_REQUEST_TIMEOUT_MS', 30000, 100, 600000, problems),
    keepAliveTimeoutMs: integer(env, 'P2_HTTP_KEEP_ALIVE_TIMEOUT_MS', 10000, 100, 600000, problems),
    idleTimeoutMs: integer(env, 'P2_HTTP_IDLE_TIMEOUT_MS', 60000, 100, 600000, problems),
    maxConnections: integer(env, 'P2_HTTP_MAX_CONNECTIONS', 10000, 1, 1000000, problems),
    trustProxy,
  };
  // Node refuses to start an HTTP server whose header deadline lies after its request deadline.
  if (httpServer.headersTimeoutMs > httpServer.requestTimeoutMs) problems.push('P2_HTTP_HEADERS_TIMEOUT_MS must not exceed P2_HTTP_REQUEST_TIMEOUT_MS');

  const readCache: ReadCacheConfig = {
    entries: integer(env, 'P2_READ_CACHE_ENTRIES', 10000, 0, 10000000, problems),
    maxAgeMs: integer(env, 'P2_READ_CACHE_MAX_AGE_MS', 60000, 1, 3600000, problems),
    tokenEntries: integer(env, 'P2_TOKEN_CACHE_ENTRIES', 10000, 0, 10000000, problems),
    tokenTtlMs: integer(env, 'P2_TOKEN_CACHE_TTL_MS', 5000, 1, 600000, problems),
  };
  const rateLimits: RateLimitsConfig = {
    enabled: boolean(env, 'P2_RATE_LIMITS_ENABLED', true, problems),
    register: rateLimitPair(env, 'P2_RATE_LIMIT_REGISTER', { perAddress: 10, perActor: 5 }, problems),
    session: rateLimitPair(env, 'P2_RATE_LIMIT_SESSION', { perAddress: 30, perActor: 10 }, problems),
    identify: rateLimitPair(env, 'P2_RATE_LIMIT_IDENTIFY', { perAddress: 60, perActor: 30 }, problems),
    challenge: rateLimitPair(env, 'P2_RATE_LIMIT_CHALLENGE', { perAddress: 60, perActor: 30 }, problems),
    sensitive: rateLimitPair(env, 'P2_RATE_LIMIT_SENSITIVE', { perAddress: 30, perActor: 10 }, problems),
    keyPackageClaim: rateLimitPair(env, 'P2_RATE_LIMIT_KEYPACKAGE_CLAIM', { perAddress: 120, perActor: 60 }, problems),
    keyPackageTarget: targetLimits(rateLimitPair(env, 'P2_RATE_LIMIT_KEYPACKAGE_TARGET', { perAddress: 30, perActor: 3 }, problems)),
    lockoutAfter: integer(env, 'P2_LOGIN_LOCKOUT_AFTER', 5, 1, 1000000, problems),
    lockoutBaseSeconds: integer(env, 'P2_LOGIN_LOCKOUT_BASE_SECONDS', 30, 1, 86400, problems),
    lockoutMaxSeconds: integer(env, 'P2_LOGIN_LOCKOUT_MAX_SECONDS', 3600, 1, 604800, problems),
  };
  if (rateLimits.lockoutBaseSeconds > rateLimits.lockoutMaxSeconds) problems.push('P2_LOGIN_LOCKOUT_BASE_SECONDS must not exceed P2_LOGIN_LOCKOUT_MAX_SECONDS');

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    nodeEnv,
    port,
    certstorePort,
    certstoreHost,
    domain,
    publicUrl,
    kafkaBrokers,
    kafkaTopicPrefix,
    databaseUrl,
    ...(keyEncryptionKey === undefined ? {} : { keyEncryptionKey }),
    ...(tokenKey === undefined ? {} : { tokenKey }),
    ...(challengeKey === undefined ? {} : { challengeKey }),
    ...(gatewayDbPassword === undefined ? {} : { gatewayDbPassword }),
    admins,
    keyMaterialMaxBytes,
    keyMaterialMaxItems,
    idCertLifetimeDays,
    serverCertLifetimeDays,
    rootPathLenZero,
    replyTimeoutMs,
    commandSendTimeoutMs: Math.min(commandSendTimeoutMs, replyTimeoutMs),
    kafkaSessionTimeoutMs,
    kafkaHeartbeatIntervalMs,
    commandRetryMaxDelayMs,
    databaseStatementTimeoutMs,
    commandConcurrency,
    commandLingerMs,
    ...(replyPartition === undefined ? {} : { replyPartition }),
    challengeTtlSeconds,
    processedCommandsRetentionHours,
    passwordScryptCost,
    instanceId,
    logLevel,
    observability,
    liveEvents,
    federation,
    httpServer,
    readCache,
    rateLimits,
  };
}

/** `<per target>,<per claimer of that target>` is read like an address/actor pair. */
function targetLimits(pair: RateLimitPair): RateLimitsConfig['keyPackageTarget'] {
  return { perTarget: pair.perAddress, perClaimer: pair.perActor };
}

/** `<per address>,<per actor>`: requests per minute, each 1 to 1000000. */
function rateLimitPair(env: Env, name: string, fallback: RateLimitPair, problems: string[]): RateLimitPair {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const match = /^(\d+)\s*,\s*(\d+)$/.exec(raw);
  const pair = match ? { perAddress: Number(match[1]), perActor: Number(match[2]) } : undefined;
  if (!pair || [pair.perAddress, pair.perActor].some((n) => n < 1 || n > 1000000)) {
    problems.push(`${name} must be "<per address>,<per actor>" requests per minute (1 to 1000000 each), got "${raw}"`);
    return fallback;
  }
  return pair;
}

/**
 * `domain=url,domain=url`: each domain's home server in place of DNS and .well-known
 * (docs/protocol.md#federation-discovery). A URL whose path ends in `/.p2/core` is taken as the API
 * base; any other URL is the server's base, and `/.p2/core/` is appended.
 */
function federationResolve(raw: string, ownDomain: string, problems: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of raw.split(',').map((e) => e.trim()).filter(Boolean)) {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? '' : entry.slice(0, eq).trim().toLowerCase();
    const target = eq < 0 ? '' : entry.slice(eq + 1).trim();
    if (!DOMAIN_RE.test(name)) {
      problems.push(`P2_FEDERATION_RESOLVE entry "${entry}" is not domain=url`);
      continue;
    }
    if (name === ownDomain) problems.push(`P2_FEDERATION_RESOLVE maps this server's own domain ${name}`);
    if (out.has(name)) problems.push(`P2_FEDERATION_RESOLVE names ${name} twice`);
    let url: URL | undefined;
    try {
      url = new URL(target);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || url.search || url.hash) {
      problems.push(`P2_FEDERATION_RESOLVE entry for ${name}: "${target}" is not an http(s) URL without credentials, query or fragment`);
      continue;
    }
    const path = url.pathname.replace(/\/+$/, '');
    url.pathname = path.endsWith('/.p2/core') ? `${path}/` : `${path}/.p2/core/`;
    out.set(name, url.href);
  }
  return out;
}

/** P2_GATEWAY_DB_PASSWORD, when set: characters that stand unescaped in a URL's user information
 * (it goes into the gateway's DATABASE_URL) and that SCRAM takes as they are. */
function readGatewayDbPassword(env: Env, problems: string[]): string | undefined {
  const password = env.P2_GATEWAY_DB_PASSWORD?.trim() || undefined;
  if (password !== undefined && !/^[A-Za-z0-9._~-]{16,128}$/.test(password)) problems.push('P2_GATEWAY_DB_PASSWORD must be 16 to 128 of the characters A-Z a-z 0-9 . _ ~ - (e.g. openssl rand -hex 24)');
  return password;
}

// The readers below are shared by the apps and the operator tools (p2ctl, the monitor), so that a
// value one of them accepts is never refused by the other: an administrator created by p2ctl under
// a domain or a name the gateways refuse could never sign in.

/** P2_DOMAIN, lower-cased (`localhost` when unset or blank); a problem if it is no DNS name. */
export function readDomain(env: Env, problems: string[]): string {
  const domain = (env.P2_DOMAIN?.trim() || 'localhost').toLowerCase();
  if (!DOMAIN_RE.test(domain)) problems.push(`P2_DOMAIN "${env.P2_DOMAIN}" is not a DNS name (e.g. example.com)`);
  return domain;
}

/** P2_ADMINS: comma-separated local names, lower-cased; a problem for each that is no actor name. */
export function readAdmins(env: Env, problems: string[]): string[] {
  const admins = (env.P2_ADMINS ?? '')
    .split(',')
    .map((a) => a.trim().toLowerCase())
    .filter(Boolean);
  for (const admin of admins) {
    if (!LOCAL_NAME_RE.test(admin)) problems.push(`P2_ADMINS entry "${admin}" is not an actor name`);
  }
  return admins;
}

/** KAFKA_BROKERS: a comma-separated host:port list, required. */
export function readKafkaBrokers(env: Env, problems: string[]): string[] {
  const kafkaBrokers = (env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (kafkaBrokers.length === 0) problems.push('KAFKA_BROKERS is required (comma-separated host:port list)');
  for (const broker of kafkaBrokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker)) problems.push(`KAFKA_BROKERS entry "${broker}" is not host:port`);
  }
  return kafkaBrokers;
}

/** P2_KAFKA_TOPIC_PREFIX: empty by default; only characters Kafka allows in topic names. */
export function readTopicPrefix(env: Env, problems: string[]): string {
  const prefix = env.P2_KAFKA_TOPIC_PREFIX ?? '';
  if (!/^[a-zA-Z0-9._-]*$/.test(prefix)) problems.push('P2_KAFKA_TOPIC_PREFIX may only contain [a-zA-Z0-9._-]');
  return prefix;
}

/** DATABASE_URL, or `fallback` when unset or blank; a problem in `problems` if it is no postgres:// URL.
 * Every server and operator process that reads DATABASE_URL reads it here (test and bench tools read their own). */
export function readDatabaseUrl(env: Env, fallback: string, problems: string[]): string {
  const databaseUrl = env.DATABASE_URL?.trim() || fallback;
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) problems.push('DATABASE_URL must be a postgres:// URL');
  return databaseUrl;
}

/** What `npm run migrate` reads. */
export interface MigrationConfig {
  /** DATABASE_URL: the role that owns the schema (default {@link DEFAULT_DATABASE_URL}) */
  readonly databaseUrl: string;
  /** P2_GATEWAY_DB_PASSWORD, set on the gateway's role */
  readonly gatewayDbPassword?: string;
}

/** The settings of `npm run migrate`, DATABASE_URL and P2_GATEWAY_DB_PASSWORD, and nothing else:
 * the migrations use no key, so a host that only migrates is given none (in production none is
 * demanded, in development no key file is written). */
export function loadMigrationConfig(env: Env = process.env): MigrationConfig {
  const problems: string[] = [];
  const databaseUrl = readDatabaseUrl(env, DEFAULT_DATABASE_URL, problems);
  const gatewayDbPassword = readGatewayDbPassword(env, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return { databaseUrl, ...(gatewayDbPassword === undefined ? {} : { gatewayDbPassword }) };
}

function defaultPublicUrl(domain: string, port: number): string {
  return domain === 'localhost' ? `http://localhost:${port}` : `https://${domain}`;
}

/** P2_TRUST_PROXY (see TrustProxy): unset or empty is `false`. */
function trustProxyOf(env: Env, problems: string[]): TrustProxy {
  const raw = (env.P2_TRUST_PROXY ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops >= 1 && hops <= 16) return hops;
    problems.push(`P2_TRUST_PROXY ${raw}: a number of proxies must be 1 to 16`);
    return false;
  }
  const peers = raw.split(',').map((peer) => peer.trim());
  for (const peer of peers) if (!isAddressOrRange(peer)) problems.push(`P2_TRUST_PROXY entry "${peer}" is not an IP address or CIDR range`);
  return peers;
}

function isAddressOrRange(text: string): boolean {
  const [address = '', prefix, extra] = text.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** The largest P2_KEYMATERIAL_MAX_BYTES: 192 KiB (see where it is read). */
export const KEY_MATERIAL_MAX_BYTES_LIMIT = 192 * 1024;

function integer(env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) {
    problems.push(`${name} must be a whole number, got "${raw}"`);
    return fallback;
  }
  const value = Number(raw);
  if (value < min || value > max) problems.push(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean, problems: string[]): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes'].includes(raw)) return true;
  if (['0', 'false', 'no'].includes(raw)) return false;
  problems.push(`${name} must be true or false, got "${env[name]}"`);
  return fallback;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T, problems: string[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return fallback;
}

/** Accepts 32 bytes as 64 hex digits or base64/base64url. */
export function parseKek(raw: string): Buffer | undefined {
  const text = raw.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === 32) return bytes;
  }
  return undefined;
}

interface KeySpec {
  readonly variable: string;
  readonly devFile: (env: Env, options: LoadConfigOptions) => string;
  readonly why: string;
  readonly what: string;
}

const KEK: KeySpec = {
  variable: 'P2_KEY_ENCRYPTION_KEY',
  devFile: (env, options) => options.devKekFile ?? (env.P2_DEV_KEK_FILE?.trim() || DEV_KEK_FILE),
  why: 'the server key is never stored unprotected',
  what: 'key-encryption key. Anyone who can read that file can decrypt the home server key',
};

const TOKEN_KEY: KeySpec = {
  variable: 'P2_TOKEN_KEY',
  devFile: (env, options) => options.devTokenKeyFile ?? (env.P2_DEV_TOKEN_KEY_FILE?.trim() || DEV_TOKEN_KEY_FILE),
  why: 'it keys the session tokens the gateway hands out',
  what: 'session-token key. Anyone who can read that file can compute the tokens of retried requests',
};

const CHALLENGE_KEY: KeySpec = {
  variable: 'P2_CHALLENGE_KEY',
  devFile: (env, options) => options.devChallengeKeyFile ?? (env.P2_DEV_CHALLENGE_KEY_FILE?.trim() || DEV_CHALLENGE_KEY_FILE),
  why: 'it signs the challenge strings of GET /challenge, which are checked at identify',
  what: 'challenge key. Anyone who can read that file can make challenges this server accepts',
};

function loadKey(env: Env, nodeEnv: string, options: LoadConfigOptions, problems: string[], spec: KeySpec): Buffer | undefined {
  const raw = env[spec.variable];
  if (raw !== undefined && raw.trim() !== '') {
    const key = parseKek(raw);
    if (!key) problems.push(`${spec.variable} must be 32 bytes as 64 hex digits or base64`);
    return key;
  }
  if (nodeEnv === 'production') {
    problems.push(`${spec.variable} is required in production: ${spec.why}`);
    return undefined;
  }
  const file = resolve(spec.devFile(env, options));
  const warn = options.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  try {
    // 'wx' makes concurrent first starts of several processes agree on one key.
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
    warn(
      `\n!!! WARNING: ${spec.variable} is not set. Generated a DEVELOPMENT ${spec.what} in ${file}.\n` +
        '!!! Never use this in production.\n',
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      problems.push(`cannot create the development key file ${file}: ${(error as Error).message}`);
      return undefined;
    }
    warn(`WARNING: ${spec.variable} is not set; using the DEVELOPMENT key in ${file}.`);
  }
  const key = parseKek(readFileSync(file, 'utf8'));
  if (!key) problems.push(`the development key file ${file} is corrupt; delete it to generate a new one`);
  return key;
}

/** The key-encryption key alone, read as the certstore reads it (the development key file outside
 * production), for the tools that open what the certstore sealed: the projection rebuilds
 * (docs/architecture.md#crypto-shredding). */
export function loadKeyEncryptionKey(env: Env = process.env, options: LoadConfigOptions = {}): Buffer {
  const problems: string[] = [];
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'production', 'test'] as const, 'development', problems);
  const key = loadKey(env, nodeEnv, options, problems, KEK);
  if (!key || problems.length > 0) throw new ConfigError(problems);
  return key;
}

/** The key-encryption key of a configuration read for the certstore (or `all`). */
export function requireKeyEncryptionKey(config: AppConfig): Buffer {
  if (!config.keyEncryptionKey) throw new ConfigError(['P2_KEY_ENCRYPTION_KEY was not read: only the certstore holds it']);
  return config.keyEncryptionKey;
}

/** The session-token key of a configuration read for the gateway (or `all`). */
export function requireTokenKey(config: AppConfig): Buffer {
  if (!config.tokenKey) throw new ConfigError(['P2_TOKEN_KEY was not read: only the gateway holds it']);
  return config.tokenKey;
}

/** The challenge-signing key of a configuration read for the gateway (or `all`). */
export function requireChallengeKey(config: AppConfig): Buffer {
  if (!config.challengeKey) throw new ConfigError(['P2_CHALLENGE_KEY was not read: only the gateway holds it']);
  return config.challengeKey;
}

/** Nest logger levels for a LOG_LEVEL. */
export function nestLogLevels(level: AppConfig['logLevel']): ('fatal' | 'error' | 'warn' | 'log' | 'debug')[] {
  const order = ['error', 'warn', 'info', 'debug'] as const;
  const nest = { error: 'error', warn: 'warn', info: 'log', debug: 'debug' } as const;
  return ['fatal', ...order.slice(0, order.indexOf(level) + 1).map((l) => nest[l])];
}
