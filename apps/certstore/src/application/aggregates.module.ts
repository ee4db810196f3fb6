import { Module } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { requireKeyEncryptionKey, type AppConfig } from '@p2/config';
import { PostgresEventStore } from '@p2/event-store';
import { APP_CONFIG } from '@p2/platform';
import { DataKeyVault } from '@p2/read-models';
import { AggregateStore } from './aggregate.store';

/** The event store and the one path commands take through an aggregate (load, decide, append,
 * project). Needs the root module's TypeORM connection. */
@Module({
  providers: [
    { provide: PostgresEventStore, inject: [getDataSourceToken()], useFactory: (dataSource: DataSource) => new PostgresEventStore(dataSource) },
    {
      provide: DataKeyVault,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        const kek = requireKeyEncryptionKey(config); // read at start: a certstore without it must not start
        return new DataKeyVault(() => kek);
      },
    },
    AggregateStore,
  ],
  exports: [PostgresEventStore, AggregateStore, DataKeyVault],
})
export class AggregatesModule {}
