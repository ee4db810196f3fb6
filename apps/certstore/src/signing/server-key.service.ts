import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createPrivateKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { requireKeyEncryptionKey, type AppConfig } from '@p2/config';
import { SERVER_STREAM, type MessageMetadata, type ServerKeyGeneratedData } from '@p2/contracts';
import { serverDecider } from '@p2/domain';
import { ConcurrencyError, PostgresEventStore, UniqueViolationError, type Later, type Sql, sqlOf } from '@p2/event-store';
import { APP_CONFIG, CLOCK, type Clock } from '@p2/platform';
import {
  createHomeServerRootCert,
  ed25519SignerFromPrivateKey,
  randomSerial,
  readIdCert,
  type Ed25519Signer,
} from '@p2/polyproto';
import { activeRootSerial, activeRootSerialLater, serverCert } from '@p2/read-models';
import { AggregateStore } from '../application/aggregate.store';
import { UnitMemory } from '../application/unit-memory';
import { decryptPrivateKey, encryptPrivateKey } from './key-encryption';

/** The current root: what actor certificates are issued under. */
export interface ActiveRoot {
  readonly serial: string;
  readonly subjectDer: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly signer: Ed25519Signer;
}

/** A new root before it is recorded: the public part for the event, the sealed private key for
 * server_keys, and a signer for what must be signed with the new key at once. */
export interface PreparedRoot {
  readonly root: Omit<ServerKeyGeneratedData, 'generatedAt'>;
  readonly sealedPrivateKey: string;
  readonly signer: Ed25519Signer;
}

/** The only code that holds the home server's private key (decrypted in memory, never logged). */
@Injectable()
export class ServerKeyService {
  private readonly logger = new Logger(ServerKeyService.name);
  private active?: ActiveRoot;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly eventStore: PostgresEventStore,
    private readonly aggregates: AggregateStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** On first start generates the root (docs/protocol.md#root-cert); several certstores starting at once agree on
   * one through the stream's expected version. Then loads and decrypts the active key. */
  async ensureLoaded(): Promise<ActiveRoot> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const serial = await activeRootSerial(sqlOf(this.dataSource.manager));
      if (serial !== undefined) return this.load(serial);
      try {
        await this.generateFirstRoot();
      } catch (error) {
        if (!(error instanceof ConcurrencyError || error instanceof UniqueViolationError)) throw error;
      }
    }
    throw new Error('The home server root could not be created.');
  }

  /** The root that is active in the caller's transaction. The row is share-locked, so a key
   * rotation (which ends that row) waits for certificates being signed under it. A signer that
   * came during a rotation waits for it on the inbox-order lock, taken before the row
   * (docs/architecture.md#rebuild-order), and then reads the new root; one that still found the
   * ended row would retry (ConcurrencyError). */
  async activeRoot(db: Sql, lock: 'share' | 'update' = 'share'): Promise<ActiveRoot> {
    return this.rootOf(await activeRootSerial(db, lock), db);
  }

  /** `activeRoot` (share-locked) for a signer that needs it only after its stream read: the lock
   * and the read leave with that read instead of in a round trip of their own. */
  activeRootLater(db: Sql): Later<ActiveRoot> {
    const serial = activeRootSerialLater(db);
    return { get: async () => this.rootOf(await serial.get(), db) };
  }

  private async rootOf(serial: string | undefined, db: Sql): Promise<ActiveRoot> {
    if (serial === undefined) throw new ConcurrencyError(SERVER_STREAM, -1);
    return this.active?.serial === serial ? this.active : this.load(serial, db);
  }

  /** A fresh Ed25519 key and self-signed root certificate, its private key sealed under the KEK. */
  prepareRoot(now: Date): PreparedRoot {
    const { privateKey } = generateKeyPairSync('ed25519');
    const signer = ed25519SignerFromPrivateKey(privateKey);
    const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 60_000);
    const notAfter = new Date(notBefore.getTime() + this.config.serverCertLifetimeDays * 86_400_000);
    const serial = randomSerial();
    const cert = createHomeServerRootCert({
      domain: this.config.domain,
      serial,
      notBefore,
      notAfter,
      signer,
      pathLenZero: this.config.rootPathLenZero,
    });
    const root: Omit<ServerKeyGeneratedData, 'generatedAt'> = {
      serial: serial.toString(),
      certPem: cert.pem,
      publicKey: Buffer.from(signer.publicKey).toString('base64'),
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
    };
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    return { root, sealedPrivateKey: encryptPrivateKey(requireKeyEncryptionKey(this.config), pkcs8, root.serial), signer };
  }

  private async load(serial: string, db: Sql = sqlOf(this.dataSource.manager)): Promise<ActiveRoot> {
    const cert = await serverCert(db, serial);
    // server_keys is this service's own table: the sealed private key never leaves it
    const [key]: { encrypted_private_key: string }[] = await db.query('SELECT encrypted_private_key FROM server_keys WHERE serial = $1', [serial]);
    if (!cert || !key) throw new Error(`The private key of root ${serial} is missing.`);
    const rootCert = readIdCert(cert.pem, { target: 'home-server' });
    if (rootCert.issuerDomain !== this.config.domain) {
      throw new Error(
        `This database belongs to the home server of ${rootCert.issuerDomain}, but P2_DOMAIN is ${this.config.domain}.`,
      );
    }
    const pkcs8 = decryptPrivateKey(requireKeyEncryptionKey(this.config), key.encrypted_private_key, serial);
    const privateKey: KeyObject = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    this.active = {
      serial,
      subjectDer: rootCert.subjectDer,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      signer: ed25519SignerFromPrivateKey(privateKey),
    };
    this.logger.log(`home server root ${serial} for ${this.config.domain} loaded`);
    return this.active;
  }

  private async generateFirstRoot(): Promise<void> {
    const at = this.clock.now();
    const commandId = randomUUID();
    const metadata: MessageMetadata = { messageId: commandId, correlationId: commandId, causationId: commandId, occurredAt: at.toISOString(), schemaVersion: 1 };
    const committed: (() => void)[] = [];
    const { root } = await this.eventStore.transaction(async (db) => {
      // one command alone in its transaction: nothing of it is undone but with the whole transaction
      const ctx = { db, metadata, at, afterCommit: (effect: () => void) => void committed.push(effect), unit: new UnitMemory().of(1) };
      let prepared!: PreparedRoot;
      await this.aggregates.handle(
        serverDecider,
        SERVER_STREAM,
        async (state) => {
          if (state.current) throw new ConcurrencyError(SERVER_STREAM, 0); // another certstore was first
          prepared = this.prepareRoot(at);
          db.defer(`INSERT INTO server_keys (serial, encrypted_private_key) VALUES ($1, $2)`, [prepared.root.serial, prepared.sealedPrivateKey]);
          return { type: 'GenerateServerKey', root: prepared.root, at } as const;
        },
        ctx,
      );
      return prepared;
    });
    for (const effect of committed) effect();
    this.logger.warn(`generated the home server root ID-Cert ${root.serial} for ${this.config.domain}`);
  }
}
