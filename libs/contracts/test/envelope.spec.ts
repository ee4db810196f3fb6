import { randomUUID } from 'node:crypto';
import { isCommandEnvelope, newCommand } from '../src';

describe('isCommandEnvelope (ids the command transport records and copies into events)', () => {
  const command = () => newCommand('RegisterActor', { federationId: 'a@example.com', localName: 'a', sealedPasswordHash: 'sealed1.x' }, randomUUID());
  const withIds = (ids: Record<string, unknown>) => {
    const c = command();
    return { ...c, metadata: { ...c.metadata, ...ids } };
  };

  it('takes what this project produces: UUIDs and the gateway request ids', () => {
    expect(isCommandEnvelope(command())).toBe(true);
    expect(isCommandEnvelope(withIds({ correlationId: 'req-1:a/b+c=d@e.f_g' }))).toBe(true);
    expect(isCommandEnvelope(withIds({ correlationId: '0af7651916cd43dd8448eb211c80319c' }))).toBe(true);
  });

  it('refuses empty, over-long and unstorable ids', () => {
    for (const ids of [{ messageId: '' }, { messageId: 'x'.repeat(129) }, { messageId: 'a\u0000b' }, { correlationId: 'a\ud800b' }, { causationId: 'a b' }, { messageId: 7 }]) {
      expect(isCommandEnvelope(withIds(ids))).toBe(false);
    }
    expect(isCommandEnvelope({ type: 'RegisterActor', data: {} })).toBe(false);
  });
});
