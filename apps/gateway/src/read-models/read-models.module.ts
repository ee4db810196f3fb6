import { Module } from '@nestjs/common';
import { DatabaseRoleCheck } from './database-role.check';
import { ReadDatabase } from './read-database';

/** The read models, for the feature modules that read them. Needs the root module's TypeORM
 * connection. */
@Module({ providers: [ReadDatabase, DatabaseRoleCheck], exports: [ReadDatabase, DatabaseRoleCheck] })
export class ReadModelsModule {}
