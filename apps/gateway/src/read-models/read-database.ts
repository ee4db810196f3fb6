import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { Reader } from '@p2/read-models';

/** The gateway's read-only access to the read models the certstore maintains (the gateway never
 * writes): the queries of @p2/read-models run on the pool under TypeORM. */
@Injectable()
export class ReadDatabase implements Reader {
  private readonly pool: Pool;

  /** The same queries as named statements, parsed and planned once per pooled connection rather
   * than once per request: for the lookup every authenticated request makes, and the inbox poll. */
  readonly prepared: Reader = {
    query: async <T>(text: string, params: readonly unknown[] = []): Promise<T> =>
      (await this.pool.query({ name: statementName(text), text, values: [...params] })).rows as T,
  };

  constructor(@InjectDataSource() dataSource: DataSource) {
    this.pool = (dataSource.driver as PostgresDriver).master as Pool;
  }

  async query<T>(text: string, params: readonly unknown[] = []): Promise<T> {
    return (await this.pool.query(text, [...params])).rows as T;
  }
}

/** A statement's name on a connection, from its text (the same text is the same statement). */
function statementName(text: string): string {
  return `p2r_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
}
