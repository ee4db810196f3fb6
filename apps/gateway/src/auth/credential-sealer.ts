import { Injectable } from '@nestjs/common';
import { ERROR_CODE } from '@p2/contracts';
import { seal } from '@p2/platform';
import { credentialSealKey } from '@p2/read-models';
import { ApiError } from '../http/api-error';
import { ReadDatabase } from '../read-models/read-database';

/** How long the certstore's public key is kept before it is read again (a new key appears only
 * when the key-encryption key changes). */
const KEY_TTL_MS = 60_000;

/** Seals password hashes for the certstore, so that no hash is readable on Kafka
 * (docs/architecture.md#sealed-credentials). */
@Injectable()
export class CredentialSealer {
  private cached?: { readonly key: string; readonly until: number };

  constructor(private readonly db: ReadDatabase) {}

  async sealPasswordHash(hash: string, federationId: string): Promise<string> {
    return seal(await this.publicKey(), hash, `p2-password-hash:${federationId}`);
  }

  private async publicKey(): Promise<string> {
    const now = Date.now();
    if (this.cached && this.cached.until > now) return this.cached.key;
    const key = await credentialSealKey(this.db);
    if (!key) throw new ApiError(503, ERROR_CODE.unavailable, 'No certstore has started yet: try again shortly.');
    this.cached = { key, until: now + KEY_TTL_MS };
    return key;
  }
}
