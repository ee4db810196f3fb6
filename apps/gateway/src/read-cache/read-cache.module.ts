import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { EventsFeedModule } from '../events-feed/events-feed.module';
import { CommandMessagingModule } from '../messaging/command-messaging.module';
import { CacheInvalidationListener } from './cache-invalidation.listener';
import { ReadCache } from './read-cache';

/** The gateway's caches of hot answers and tokens, and what keeps them true
 * (docs/architecture.md#read-cache). The token cache is provided by the AuthModule, whose lookup uses it. */
@Module({
  imports: [AuthModule, CommandMessagingModule, EventsFeedModule],
  providers: [ReadCache, CacheInvalidationListener],
  exports: [ReadCache],
})
export class ReadCacheModule {}
