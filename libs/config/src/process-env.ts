/** The processes `npm start`, the benchmarks and the chaos run start, as far as secrets go: the two
 * apps, the migrations run before them, and the helpers that read none (the Kafka broker, the
 * cluster guard, the benchmark's load runner). */
export type ClusterProcess = 'gateway' | 'certstore' | 'migrate' | 'broker' | 'guard' | 'bench';

/**
 * Every environment variable that carries a secret, with the processes that read it: the one list
 * both `loadConfig` (which key a role reads) and the start scripts (what a child's environment may
 * hold) follow, so that a process whose memory is read, or whose `/proc/<pid>/environ` leaks, gives
 * away its own secrets only (docs/architecture.md#secrets). A variable added here is kept from every
 * process not named.
 */
export const SECRET_VARIABLES: Readonly<Record<string, readonly ClusterProcess[]>> = {
  P2_KEY_ENCRYPTION_KEY: ['certstore'],
  P2_TOKEN_KEY: ['gateway'],
  P2_CHALLENGE_KEY: ['gateway'],
  // the migrations (the certstore's at start, or `npm run migrate`) set it on the gateway's role;
  // a gateway has it only inside its own DATABASE_URL
  P2_GATEWAY_DB_PASSWORD: ['certstore', 'migrate'],
  P2_METRICS_TOKEN: ['gateway', 'certstore'],
  // may hold the password of the role that owns the schema (a gateway is given its own role's URL)
  DATABASE_URL: ['gateway', 'certstore', 'migrate'],
  // p2ctl's, which no start script runs
  P2_ADMIN_PASSWORD: [],
};

/** Whether `process` reads the secret variable `variable` (false for a variable that is no secret). */
export function readsSecret(process: ClusterProcess, variable: string): boolean {
  return Object.hasOwn(SECRET_VARIABLES, variable) && SECRET_VARIABLES[variable]!.includes(process);
}

/** A copy of `env` without the secrets `process` does not read: the environment to start it with. */
export function environmentOf(env: Readonly<Record<string, string | undefined>>, process: ClusterProcess): Record<string, string | undefined> {
  const copy = { ...env };
  for (const variable of Object.keys(SECRET_VARIABLES)) if (!readsSecret(process, variable)) delete copy[variable];
  return copy;
}
