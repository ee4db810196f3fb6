import { Injectable, Logger } from '@nestjs/common';
import { SERVER_STREAM, actorStream, type ResultOf, type RotateServerKey, type RotateServerKeyData } from '@p2/contracts';
import { actorDecider, checkRotateServerKey, serverDecider } from '@p2/domain';
import { liveCertsOfRoot } from '@p2/read-models';
import { CacheSignerService } from '../signing/cache-signer.service';
import { ServerKeyService, type PreparedRoot } from '../signing/server-key.service';
import { AggregateStore } from './aggregate.store';
import type { CommandContext } from './command-context';

/** A new home server key and root (docs/protocol.md#server-key-rotation). The old root stays in history, in use until
 * now; actor certs it signed stay valid until they expire, unless the admin declares the old key
 * compromised, which invalidates every one of them. Every session is told (SERVER_KEY_CHANGE, by
 * the inbox projection). */
@Injectable()
export class RotateServerKeyHandler {
  private readonly logger = new Logger(RotateServerKeyHandler.name);

  constructor(
    private readonly store: AggregateStore,
    private readonly serverKey: ServerKeyService,
    private readonly cacheSigner: CacheSignerService,
  ) {}

  async execute(data: RotateServerKeyData, ctx: CommandContext): Promise<ResultOf<RotateServerKey>> {
    const { requestedBy, compromised } = data;
    // Locked before anything is appended, the inbox-order lock exclusively just before the row:
    // signers and inbox writers still at work finish (and come first in the log), later ones wait
    // and then go on under the new root. The log order is then the order a rebuild replays, which
    // keeps the inbox numbers and the SERVER_KEY_CHANGE recipients identical
    // (docs/architecture.md#rebuild-order).
    const previous = await this.serverKey.activeRoot(ctx.db, 'update');
    let prepared!: PreparedRoot;
    await this.store.handle(
      serverDecider,
      SERVER_STREAM,
      async (state) => {
        // a new key and a signed root are prepared only once the rotation is sure to be accepted
        checkRotateServerKey(state, previous.serial);
        prepared = this.serverKey.prepareRoot(ctx.at);
        ctx.db.defer(`INSERT INTO server_keys (serial, encrypted_private_key) VALUES ($1, $2)`, [prepared.root.serial, prepared.sealedPrivateKey]);
        return { type: 'RotateServerKey', previousSerial: previous.serial, root: prepared.root, compromised, requestedBy, at: ctx.at } as const;
      },
      ctx,
    );
    const { root, signer } = prepared;
    if (compromised) await this.invalidateCertsOf(previous.serial, ctx);
    await this.cacheSigner.resignAll(ctx.db, ctx.at, signer);
    this.logger.warn(`home server key rotated by ${requestedBy}: root ${previous.serial} → ${root.serial}${compromised ? ' (old key compromised)' : ''}`);
    return { type: 'ServerKeyRotated', serial: root.serial, idCertPem: root.certPem };
  }

  /** Each affected cert is invalidated on its actor's stream, so the actor's own decisions (which
   * session IDs are free) see it. */
  private async invalidateCertsOf(rootSerial: string, ctx: CommandContext): Promise<void> {
    const certs = await liveCertsOfRoot(ctx.db, rootSerial, ctx.at);
    for (const { federationId, sessionId, serial } of certs) {
      await this.store.handle(actorDecider, actorStream(federationId), { type: 'InvalidateIdCert', federationId, sessionId, serial, reason: 'server-key-compromised', at: ctx.at }, ctx);
    }
    if (certs.length > 0) this.logger.warn(`invalidated ${certs.length} actor certificates of the compromised root ${rootSerial}`);
  }
}
