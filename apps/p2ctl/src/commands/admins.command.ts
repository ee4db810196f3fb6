import { randomUUID } from 'node:crypto';
import { newCommand } from '@p2/contracts';
import { seal } from '@p2/platform';
import { normalizeLocalName } from '@p2/polyproto';
import { credentialSealKey } from '@p2/read-models';
import { hashPassword } from '../../../gateway/src/auth/password-hasher';
import { PASSWORD_MAX, PASSWORD_MIN, passwordHeaderFailure } from '../../../gateway/src/registration/register.request.dto';
import { UsageError } from '../operator-env';
import type { OperatorSession } from '../operator-session';

/** `p2ctl admins create <name>`: registers an administrator named in P2_ADMINS, with the password
 * from P2_ADMIN_PASSWORD or standard input, through the same RegisterActor command (and the same
 * password hashing, at P2_PASSWORD_SCRYPT_COST) as POST /register, marked as the operator's: these names
 * are refused to POST /register. The certstore refuses a federation ID off its own domain, so a run
 * without the cluster's P2_DOMAIN creates no one. */
export async function adminsCommand(session: OperatorSession, [action, name]: readonly string[]): Promise<number> {
  if (action !== 'create' || !name) throw new UsageError('usage: p2ctl admins create <name>   (password from P2_ADMIN_PASSWORD or standard input)');
  let localName: string;
  try {
    localName = normalizeLocalName(name);
  } catch (error) {
    throw new UsageError(`"${name}" is not an actor name: ${(error as Error).message}`);
  }
  if (!session.env.admins.includes(localName)) throw new UsageError(`"${localName}" is not named in P2_ADMINS (${session.env.admins.join(', ') || 'empty'}): only those can be created as administrators`);
  const password = session.io.env.P2_ADMIN_PASSWORD ?? (await session.io.readStdin()).replace(/\r?\n$/, '');
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) throw new UsageError(`the password must have ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`);
  const unfit = passwordHeaderFailure(password);
  if (unfit !== undefined) throw new UsageError(`the password ${unfit}`);
  const federationId = `${localName}@${session.env.domain}`;
  const bus = await session.bus();
  // sealed for the certstore as the gateway does: no password hash is readable on Kafka
  const db = await session.db();
  const sealKey = await credentialSealKey({ query: async <T>(text: string, params?: readonly unknown[]) => (await db.query(text, params ? [...params] : undefined)).rows as T });
  if (!sealKey) throw new UsageError('no certstore has started on this database yet: start one first');
  const sealedPasswordHash = seal(sealKey, await hashPassword(password, session.env.passwordScryptCost), `p2-password-hash:${federationId}`);
  const reply = await bus.send(newCommand('RegisterActor', { federationId, localName, sealedPasswordHash, requestedBy: session.env.operator }, randomUUID()), `actor-${federationId}`);
  await session.audit({ reason: 'admin-create', details: { federationId, outcome: reply.ok ? 'created' : reply.error.code } });
  if (!reply.ok) {
    session.io.err(`${federationId} was not created: ${reply.error.code} (${reply.error.message})`);
    return 1;
  }
  session.io.out(`created the administrator ${federationId}`);
  return 0;
}
