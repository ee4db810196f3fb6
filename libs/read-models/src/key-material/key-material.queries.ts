import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** One stored item as GET /session/keymaterial answers it: the 2024 shape plus
 * `encryption_algorithms` when the client named any (profile D4). */
export interface KeyMaterialResponseItem {
  readonly key_data: string;
  readonly serial_number: string;
  readonly encryption_algorithms?: string[];
}

/** Read-only access to the key_material projection the certstore maintains. */
@Injectable()
export class KeyMaterialReadModel {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** The actor's items, by serial; only those of `serials` when given. */
  async items(federationId: string, serials?: readonly string[]): Promise<KeyMaterialResponseItem[]> {
    const params: unknown[] = [federationId];
    let where = 'federation_id = $1';
    if (serials) {
      params.push(serials);
      where += ' AND serial = ANY($2::numeric[])';
    }
    const rows: { serial: string; key_data: string; encryption_algorithms: string[] }[] = await this.db.query(
      `SELECT serial::text AS serial, key_data, encryption_algorithms FROM key_material WHERE ${where} ORDER BY key_material.serial`,
      params,
    );
    return rows.map((r) => ({
      key_data: r.key_data,
      serial_number: r.serial,
      ...(r.encryption_algorithms.length > 0 ? { encryption_algorithms: r.encryption_algorithms } : {}),
    }));
  }
}
