import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import type { ShreddableSecret } from '@p2/contracts';
import { planOnce, type Sql } from '@p2/event-store';

/** Whose secret a data key protects: deleting the owner's item deletes exactly its keys. */
export interface DataKeyOwner {
  readonly federationId: string;
  readonly serial: string;
}

/** Opens the secrets events carry sealed under a data key (docs/architecture.md#crypto-shredding). */
export interface SecretOpener {
  /** The plaintext, or undefined when the data key was destroyed (the secret was deleted). Throws
   * {@link DataKeyError} when the key exists but does not open (another key-encryption key, an
   * altered row or ciphertext): a rebuild must stop rather than drop what it cannot read. */
  open(db: Sql, secret: ShreddableSecret, owner: DataKeyOwner): Promise<string | undefined>;
}

export class DataKeyError extends Error {
  readonly code = 'DATA_KEY_UNREADABLE';
  constructor(keyId: string, reason: string) {
    super(`The data key ${keyId} cannot be used: ${reason}.`);
    this.name = 'DataKeyError';
  }
}

const wrapPurpose = (keyId: string, owner: DataKeyOwner): Buffer => Buffer.from(`p2-data-key:${keyId}:${owner.federationId}:${owner.serial}`);
const secretPurpose = (owner: DataKeyOwner): Buffer => Buffer.from(`p2-key-material:${owner.federationId}:${owner.serial}`);

function encrypt(key: Buffer, plaintext: Buffer, aad: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return ['d1', iv, cipher.getAuthTag(), ciphertext].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

/** undefined when `sealed` is not of this format or does not authenticate */
function decrypt(key: Buffer, sealed: string, aad: Buffer): Buffer | undefined {
  const [version, iv, tag, ciphertext, extra] = sealed.split('.');
  if (version !== 'd1' || !iv || !tag || ciphertext === undefined || extra !== undefined) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(aad);
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * Crypto-shredding (docs/architecture.md#crypto-shredding): each secret an event carries is encrypted
 * under a fresh 256-bit data key; the data key lives in `data_keys`, wrapped (AES-256-GCM) with a key
 * derived from P2_KEY_ENCRYPTION_KEY, so only the certstore (and the rebuild tools, which read the
 * same variable) can use it. Deleting the row, in the transaction that records the deletion, leaves
 * every copy of the ciphertext (log, events topic, backups of the log) unreadable.
 *
 * The key-encryption key is asked for only when a data key is created or unwrapped, so a rebuild of
 * a log without sealed secrets needs none.
 */
export class DataKeyVault implements SecretOpener {
  private wrapKey?: Buffer;
  /** Data keys created in a transaction that has not necessarily committed, by the transaction's Sql:
   * the inline projection opens what the same command just sealed without a round trip, and a
   * rolled-back transaction's keys go with its Sql object. */
  private readonly fresh = new WeakMap<Sql, Map<string, Buffer>>();

  constructor(private readonly keyEncryptionKey: () => Buffer) {}

  /** Encrypts `plaintext` under a new data key for `owner`, whose wrapped copy is written in `db`'s
   * transaction (deferred). */
  seal(db: Sql, owner: DataKeyOwner, plaintext: string): ShreddableSecret {
    const keyId = randomUUID();
    const dataKey = randomBytes(32);
    db.defer(planOnce(`INSERT INTO data_keys (key_id, federation_id, serial, wrapped_key) VALUES ($1, $2, $3, $4)`), [
      keyId,
      owner.federationId,
      owner.serial,
      encrypt(this.wrappingKey(), dataKey, wrapPurpose(keyId, owner)),
    ]);
    let keys = this.fresh.get(db);
    if (!keys) this.fresh.set(db, (keys = new Map()));
    keys.set(keyId, dataKey);
    return { keyId, ciphertext: encrypt(dataKey, Buffer.from(plaintext, 'utf8'), secretPurpose(owner)) };
  }

  async open(db: Sql, secret: ShreddableSecret, owner: DataKeyOwner): Promise<string | undefined> {
    let dataKey = this.fresh.get(db)?.get(secret.keyId);
    if (!dataKey) {
      const [row]: { wrapped_key: string }[] = await db.query(`SELECT wrapped_key FROM data_keys WHERE key_id = $1 AND federation_id = $2 AND serial = $3`, [
        secret.keyId,
        owner.federationId,
        owner.serial,
      ]);
      if (!row) return undefined;
      dataKey = decrypt(this.wrappingKey(), row.wrapped_key, wrapPurpose(secret.keyId, owner));
      if (!dataKey) throw new DataKeyError(secret.keyId, 'it does not unwrap with this P2_KEY_ENCRYPTION_KEY');
    }
    const plaintext = decrypt(dataKey, secret.ciphertext, secretPurpose(owner));
    if (!plaintext) throw new DataKeyError(secret.keyId, 'the ciphertext does not open with it (altered, or moved from another item)');
    return plaintext.toString('utf8');
  }

  /** Destroys the data keys of the owner's `serials`, in `db`'s transaction (deferred). */
  destroy(db: Sql, federationId: string, serials: readonly string[]): void {
    if (serials.length === 0) return;
    db.defer(`DELETE FROM data_keys WHERE federation_id = $1 AND serial = ANY($2::numeric[])`, [federationId, serials]);
  }

  private wrappingKey(): Buffer {
    this.wrapKey ??= Buffer.from(hkdfSync('sha256', this.keyEncryptionKey(), Buffer.alloc(0), 'p2-data-key-wrap-v1', 32));
    return this.wrapKey;
  }
}

/** For rebuilds of logs that hold no sealed secret (tests, tools without the key-encryption key):
 * any sealed secret stops the rebuild. */
export const NO_SECRETS: SecretOpener = {
  open: (_db, secret) => Promise.reject(new DataKeyError(secret.keyId, 'no key-encryption key was given to open it')),
};
