import type { DataSource } from 'typeorm';
import type { Clock } from '@p2/platform';
import { CacheSignerService } from '../src/signing/cache-signer.service';
import type { ServerKeyService } from '../src/signing/server-key.service';

describe('CacheSignerService.renewDue: the size of a renewal transaction', () => {
  it.each([0, -1, 1.5, Number.NaN])('refuses a chunk of %p before it opens a transaction', async (chunk) => {
    const transaction = jest.fn();
    const signer = new CacheSignerService({ transaction } as unknown as DataSource, {} as ServerKeyService, { now: () => new Date() } as Clock);
    await expect(signer.renewDue(new Date(), chunk)).rejects.toThrow(RangeError);
    expect(transaction).not.toHaveBeenCalled();
  });
});
