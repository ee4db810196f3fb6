import { userInfo } from 'node:os';
import { DEFAULT_DATABASE_URL, readAdmins, readDatabaseUrl, readDomain, readKafkaBrokers, readTopicPrefix } from '@p2/config';
import { OPERATOR_PATTERN } from '@p2/contracts';
import { PASSWORD_SCRYPT_COST } from '../../gateway/src/auth/password-hasher';

/** What p2ctl and the monitor read from the environment (validated, every problem at once). */
export interface OperatorEnv {
  readonly kafkaBrokers: readonly string[];
  readonly topicPrefix: string;
  readonly databaseUrl: string;
  readonly domain: string;
  readonly admins: readonly string[];
  /** log2 of scrypt's N for the administrator passwords it hashes (P2_PASSWORD_SCRYPT_COST, as the gateways) */
  readonly passwordScryptCost: number;
  /** who acts: `operator:<P2_OPERATOR or the login name>` (audit entries, RotateServerKey) */
  readonly operator: string;
}

/** A usage or configuration problem: printed as is, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the variables the operator tools use (the same names and rules as the apps'). */
export function operatorEnv(env: Env): OperatorEnv {
  const problems: string[] = [];
  const kafkaBrokers = readKafkaBrokers(env, problems);
  const topicPrefix = readTopicPrefix(env, problems);
  const databaseUrl = readDatabaseUrl(env, DEFAULT_DATABASE_URL, problems);
  const domain = readDomain(env, problems);
  const admins = readAdmins(env, problems);
  // the gateways' rule (libs/config): 14 to 20, at least 17 in production
  const costText = env.P2_PASSWORD_SCRYPT_COST?.trim() || String(PASSWORD_SCRYPT_COST);
  const passwordScryptCost = Number(costText);
  if (!/^\d+$/.test(costText) || passwordScryptCost < 14 || passwordScryptCost > 20) problems.push(`P2_PASSWORD_SCRYPT_COST "${costText}" must be an integer from 14 to 20`);
  else if (env.NODE_ENV === 'production' && passwordScryptCost < PASSWORD_SCRYPT_COST) problems.push(`P2_PASSWORD_SCRYPT_COST must be at least ${PASSWORD_SCRYPT_COST} in production (scrypt N = 2^${PASSWORD_SCRYPT_COST})`);
  const user = (env.P2_OPERATOR ?? safeUserName()).trim().toLowerCase();
  const operator = `operator:${user}`;
  if (!OPERATOR_PATTERN.test(operator)) problems.push(`P2_OPERATOR "${user}" must be 1 to 64 of [a-z0-9._-]`);
  if (problems.length > 0) throw new UsageError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  return { kafkaBrokers, topicPrefix, databaseUrl, domain, admins, passwordScryptCost, operator };
}

function safeUserName(): string {
  try {
    return userInfo().username.replace(/[^a-z0-9._-]/gi, '-').slice(0, 64) || 'unknown';
  } catch {
    return 'unknown';
  }
}
