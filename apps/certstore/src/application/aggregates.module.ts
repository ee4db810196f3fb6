import { Module } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { PostgresEventStore } from '@p2/event-store';
import { AggregateStore } from './aggregate.store';

/** The event store and the one path commands take through an aggregate (load, decide, append,
 * project). Needs the root module's TypeORM connection. */
@Module({
  providers: [
    { provide: PostgresEventStore, inject: [getDataSourceToken()], useFactory: (dataSource: DataSource) => new PostgresEventStore(dataSource) },
    AggregateStore,
  ],
  exports: [PostgresEventStore, AggregateStore],
})
export class AggregatesModule {}
