import { Injectable, Logger } from '@nestjs/common';
import { GatewayEventsFeed } from '../events-feed/gateway-events.feed';
import { CommandSender } from '../messaging/command-sender.service';
import { cacheChangeOf, type CacheChange } from './cache-change';
import { ReadCache } from './read-cache';
import { TokenCache } from './token-cache';

/**
 * Keeps the gateway's caches true (docs/architecture.md#read-cache): the results of this gateway's
 * own commands are applied before their requests are answered (read your writes), and every event
 * of `p2.core.events.v1` is read from the gateway's events feed, so that a write through another
 * gateway is seen as soon as the relay publishes it. The caches serve only while the feed's
 * consumer is positioned; when it leaves its group they are emptied and bypassed until it is back.
 */
@Injectable()
export class CacheInvalidationListener {
  private readonly logger = new Logger('ReadCache');

  constructor(
    commands: CommandSender,
    feed: GatewayEventsFeed,
    private readonly answers: ReadCache,
    private readonly tokens: TokenCache,
  ) {
    commands.onApplied((result) => this.apply(cacheChangeOf(result.type, result)));
    feed.subscribe({
      onEvent: (event) => this.apply(cacheChangeOf(event.type, event.data)),
      onError: (error, event) => this.logger.error(`applying ${event.type} ${event.metadata.messageId} failed: ${(error as Error)?.message ?? error}`),
      onPositioned: () => this.setLive(true),
      onLeft: () => this.setLive(false),
    });
  }

  private setLive(live: boolean): void {
    this.answers.setLive(live);
    this.tokens.setLive(live);
  }

  private apply(change: CacheChange | undefined): void {
    if (!change) return;
    if (change.everything) {
      this.answers.forgetAll();
      this.tokens.forgetAll();
      return;
    }
    if (change.actor !== undefined) this.answers.forgetActor(change.actor);
    if (change.allTokens) this.tokens.forgetAll();
    else if (change.session) this.tokens.forgetSession(change.session.federationId, change.session.sessionId);
  }
}
