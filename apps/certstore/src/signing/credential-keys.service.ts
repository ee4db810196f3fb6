import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { requireKeyEncryptionKey, type AppConfig } from '@p2/config';
import { ERROR_CODE } from '@p2/contracts';
import { DomainError } from '@p2/domain';
import { sqlOf } from '@p2/event-store';
import { APP_CONFIG, credentialKeyPair, openSealed, SealedBoxError } from '@p2/platform';
import { recordCredentialSealKey } from '@p2/read-models';

/** The purpose a sealed password hash is bound to: its actor, so a box cannot be replayed for another. */
export const passwordHashPurpose = (federationId: string): string => `p2-password-hash:${federationId}`;

/** Opens the password hashes gateways seal for the certstore (docs/architecture.md#sealed-credentials);
 * the private key is derived from the key-encryption key and never stored. */
@Injectable()
export class CredentialKeysService {
  private readonly keyPair: ReturnType<typeof credentialKeyPair>;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {
    this.keyPair = credentialKeyPair(requireKeyEncryptionKey(config));
  }

  /** Makes the public key known to gateways and p2ctl; called at every start. */
  async publish(): Promise<void> {
    await recordCredentialSealKey(sqlOf(this.dataSource.manager), this.keyPair.publicKey);
  }

  openPasswordHash(sealed: string, federationId: string): string {
    try {
      const hash = openSealed(this.keyPair, sealed, passwordHashPurpose(federationId));
      if (!hash.startsWith('scrypt$')) throw new SealedBoxError('it does not hold a password hash');
      return hash;
    } catch (error) {
      if (error instanceof SealedBoxError) throw new DomainError(ERROR_CODE.malformedRequest, error.message);
      throw error;
    }
  }
}
