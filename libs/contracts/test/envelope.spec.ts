import { randomUUID } from 'node:crypto';
import { isCommandEnvelope, isPayloadOmitted, newCommand, PAYLOAD_OMITTED, withPayloadOmitted } from '../src';

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

describe('withPayloadOmitted / isPayloadOmitted (an event too large for the events topic)', () => {
  it('keeps the type and metadata, replaces the data by the marker, and is recognised by it only', () => {
    const event = { type: 'KeyPackagesAdded', data: { federationId: 'a@example.com', keyPackages: ['…'] }, metadata: { messageId: 'actor-a@example.com@3', correlationId: 'c', causationId: 'd', occurredAt: 't', schemaVersion: 1 } };
    const standIn = withPayloadOmitted(event, 2_000_000);
    expect(standIn).toEqual({ type: event.type, data: { payloadOmitted: { reason: PAYLOAD_OMITTED, bytes: 2_000_000 } }, metadata: event.metadata });
    expect(isPayloadOmitted(standIn.data)).toBe(true);
    for (const data of [event.data, null, 'x', { payloadOmitted: true }, { payloadOmitted: { reason: 'other' } }]) expect(isPayloadOmitted(data)).toBe(false);
  });
});
