import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabase } from '@p2/platform';

/** A database of its own for one test file, on the server of DATABASE_URL. */
export async function createTestDatabase(label = 'test'): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/p2_${label.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 20)}_${randomBytes(4).toString('hex')}`;
  const url = base.toString();
  await ensureDatabase(url);
  return { url, drop: () => dropDatabase(url) };
}
