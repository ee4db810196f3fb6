import { Client } from 'pg';
import { seal } from '@p2/platform';
import { credentialSealKey } from '@p2/read-models';

/** A password hash of nothing in particular, as tests put into raw RegisterActor commands. */
export const TEST_PASSWORD_HASH = 'scrypt$16384$8$1$c2FsdA==$aGFzaA==';

/** The public key a cluster's certstores published, to seal hashes as the gateway does
 * (docs/architecture.md#sealed-credentials). */
export async function credentialSealKeyOf(databaseUrl: string): Promise<string> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const key = await credentialSealKey({ query: async <T>(text: string, params?: readonly unknown[]) => (await db.query(text, params ? [...params] : undefined)).rows as T });
    if (!key) throw new Error('no certstore has published its credential key');
    return key;
  } finally {
    await db.end();
  }
}

export function sealedPasswordHash(sealKey: string, federationId: string, hash = TEST_PASSWORD_HASH): string {
  return seal(sealKey, hash, `p2-password-hash:${federationId}`);
}
