import { Injectable, Logger } from '@nestjs/common';
import { SERVER_STREAM, type CommandResult } from '@p2/contracts';
import { fold, serverDecider, type ServerEvent } from '@p2/domain';
import { PostgresEventStore } from '@p2/event-store';
import { parseFederationId } from '@p2/polyproto';
import { applyProjections } from '../projections/projections';
import { CacheSignerService } from '../signing/cache-signer.service';
import { ServerKeyService } from '../signing/server-key.service';
import { ActorRepository } from './actor.repository';
import { MalformedCommandError, requireString, type CommandContext } from './command-context';

/** R9 / profile D6: a new home server key and root. The old root stays in history, in use until
 * now; actor certs it signed stay valid until they expire, unless the admin declares the old key
 * compromised, which invalidates every one of them. Every session is told (SERVER_KEY_CHANGE, by
 * the inbox projection). */
@Injectable()
export class RotateServerKeyHandler {
  private readonly logger = new Logger(RotateServerKeyHandler.name);

  constructor(
    private readonly eventStore: PostgresEventStore,
    private readonly serverKey: ServerKeyService,
    private readonly actors: ActorRepository,
    private readonly cacheSigner: CacheSignerService,
  ) {}

  async execute(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const requestedBy = parseFederationId(requireString(data, 'requestedBy')).toString();
    const compromised = (data as { compromised?: unknown }).compromised;
    if (typeof compromised !== 'boolean') throw new MalformedCommandError('command field compromised must be a boolean');

    // Locked before anything is appended: signers still holding the old root finish (and come
    // first in the log), later ones wait and then retry under the new root. The log order is then
    // the order a rebuild replays, which keeps the SERVER_KEY_CHANGE recipients identical.
    const previous = await this.serverKey.activeRoot(ctx.manager, 'update');
    const stream = await this.eventStore.readStream(SERVER_STREAM, ctx.manager);
    const state = fold(serverDecider, stream.events as unknown as ServerEvent[]);
    const { root, sealedPrivateKey, signer } = this.serverKey.prepareRoot(ctx.at);
    const events = serverDecider.decide(
      { type: 'RotateServerKey', previousSerial: previous.serial, root, compromised, requestedBy, at: ctx.at },
      state,
    );
    await ctx.manager.query(`INSERT INTO server_keys (serial, encrypted_private_key) VALUES ($1, $2)`, [root.serial, sealedPrivateKey]);
    const stored = await this.eventStore.append(ctx.manager, SERVER_STREAM, stream.version, events, ctx.metadata);
    await applyProjections(ctx.manager, stored);

    if (compromised) await this.invalidateCertsOf(previous.serial, ctx);
    await this.cacheSigner.resignAll(ctx.manager, ctx.at, signer);
    this.logger.warn(`home server key rotated by ${requestedBy}: root ${previous.serial} → ${root.serial}${compromised ? ' (old key compromised)' : ''}`);
    return { type: 'ServerKeyRotated', serial: root.serial, idCertPem: root.certPem };
  }

  /** Each affected cert is invalidated on its actor's stream, so the actor's own decisions (which
   * session IDs are free) see it. */
  private async invalidateCertsOf(rootSerial: string, ctx: CommandContext): Promise<void> {
    const certs: { federation_id: string; session_id: string; serial: string }[] = await ctx.manager.query(
      `SELECT federation_id, session_id, serial::text AS serial FROM id_certs
        WHERE root_serial = $1 AND invalidated_at IS NULL AND not_after > $2
        ORDER BY federation_id, id_certs.serial`,
      [rootSerial, ctx.at],
    );
    for (const cert of certs) {
      const actor = await this.actors.load(ctx.manager, cert.federation_id);
      await this.actors.decideAndAppend(ctx, actor, {
        type: 'InvalidateIdCert',
        federationId: cert.federation_id,
        sessionId: cert.session_id,
        serial: cert.serial,
        reason: 'server-key-compromised',
        at: ctx.at,
      });
    }
    if (certs.length > 0) this.logger.warn(`invalidated ${certs.length} actor certificates of the compromised root ${rootSerial}`);
  }
}
