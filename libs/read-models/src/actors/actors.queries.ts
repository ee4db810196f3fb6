import type { Sql } from '@p2/event-store';
import type { Reader } from '../reader';

/** Whether an actor with this federation ID is registered. */
export async function actorExists(db: Reader, federationId: string): Promise<boolean> {
  const rows: unknown[] = await db.query('SELECT 1 FROM actors WHERE federation_id = $1', [federationId]);
  return rows.length > 0;
}

/** The command that registered an actor (undefined: no such actor; null: registered before it was recorded). */
export async function actorRegistrationCommand(db: Reader, federationId: string): Promise<string | null | undefined> {
  const rows: { registered_by_command: string | null }[] = await db.query('SELECT registered_by_command FROM actors WHERE federation_id = $1', [federationId]);
  return rows.length === 0 ? undefined : rows[0]!.registered_by_command;
}

/** The stored password hash of an actor. `actor_credentials` is not a projection: the hash never
 * enters an event, so the rebuild keeps the table (docs/architecture.md#secrets). */
export async function passwordHash(db: Reader, federationId: string): Promise<string | undefined> {
  const rows: { password_hash: string }[] = await db.query('SELECT password_hash FROM actor_credentials WHERE federation_id = $1', [federationId]);
  return rows[0]?.password_hash;
}

/** Records a new actor's password hash in the transaction that registers the actor. */
export function recordPasswordHash(db: Sql, federationId: string, hash: string): void {
  db.defer('INSERT INTO actor_credentials (federation_id, password_hash) VALUES ($1, $2)', [federationId, hash]);
}

/** Replaces an actor's password hash by a stronger one of the same password (rehash at login). */
export function replacePasswordHash(db: Sql, federationId: string, hash: string): void {
  db.defer('UPDATE actor_credentials SET password_hash = $2, updated_at = now() WHERE federation_id = $1', [federationId, hash]);
}

/** The newest public key the certstores seal credentials for (docs/architecture.md#sealed-credentials). */
export async function credentialSealKey(db: Reader): Promise<string | undefined> {
  const rows: { public_key: string }[] = await db.query('SELECT public_key FROM credential_seal_keys ORDER BY recorded_at DESC, public_key LIMIT 1');
  return rows[0]?.public_key;
}

/** Records the certstore's public credential key (again at every start; the newest one is used). */
export async function recordCredentialSealKey(db: Reader, publicKey: string): Promise<void> {
  await db.query('INSERT INTO credential_seal_keys (public_key) VALUES ($1) ON CONFLICT (public_key) DO UPDATE SET recorded_at = now()', [publicKey]);
}
