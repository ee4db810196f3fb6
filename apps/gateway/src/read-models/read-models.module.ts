import { Module } from '@nestjs/common';
import { ReadDatabase } from './read-database';

/** The read models, for the feature modules that read them. Needs the root module's TypeORM
 * connection. */
@Module({ providers: [ReadDatabase], exports: [ReadDatabase] })
export class ReadModelsModule {}
