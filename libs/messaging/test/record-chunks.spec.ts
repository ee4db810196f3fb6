import type { Message as KafkaRecord, Producer, ProducerRecord } from 'kafkajs';
import { CoalescingSender } from '../src/coalescing-sender';
import { EventPublisher } from '../src/event-publisher';
import { chunksOf, MAX_REQUEST_BYTES, recordBytes } from '../src/record-chunks';

const record = (bytes: number, key = 'k'): KafkaRecord => ({ key, value: 'x'.repeat(bytes) });

/** A producer that records each request, as the broker would see it. */
function fakeProducer(): { producer: Producer; requests: ProducerRecord[] } {
  const requests: ProducerRecord[] = [];
  const producer = { send: (request: ProducerRecord) => (requests.push(request), Promise.resolve([])), connect: async () => undefined } as unknown as Producer;
  return { producer, requests };
}
const requestBytes = (request: ProducerRecord) => request.messages.reduce((n, m) => n + recordBytes(m), 0);

describe('chunksOf (produce requests the broker takes)', () => {
  it('cuts by count and by bytes, in order; an oversized record goes alone', () => {
    const items = [100, 200, 300, 1000, 50, 60].map((bytes, i) => record(bytes, String(i)));
    const chunks = chunksOf(items, (r) => r, 2, 600);
    expect(chunks.map((c) => c.map((r) => r.key))).toEqual([['0', '1'], ['2'], ['3'], ['4', '5']]);
    expect(chunksOf([], (r: KafkaRecord) => r, 0)).toEqual([]);
  });

  it('counts keys, values and headers', () => {
    expect(recordBytes({ key: 'ab', value: Buffer.alloc(10), headers: { h: 'xyz', b: Buffer.alloc(4) } })).toBe(2 + 10 + 1 + 3 + 1 + 4);
  });
});

describe('the senders keep each produce request under MAX_REQUEST_BYTES', () => {
  it('EventPublisher: a relay batch of 180 events of 14 KiB (key material items) in several requests, in order', async () => {
    const { producer, requests } = fakeProducer();
    const publisher = new EventPublisher({ producer: () => producer } as never, 'events');
    const messages = Array.from({ length: 180 }, (_, i) => ({
      key: `keymaterial-a${i}@example.com`,
      message: { type: 'KeyMaterialStored', data: { sealed: 'x'.repeat(14 * 1024) }, metadata: { messageId: `m${i}`, correlationId: 'c', causationId: 'c', occurredAt: '', schemaVersion: 2 } },
    }));
    await publisher.publish(messages);
    // one request of 2.5 MB before: the broker refused it (MESSAGE_TOO_LARGE) on every pass
    expect(requests.length).toBeGreaterThan(1);
    for (const request of requests) expect(requestBytes(request)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(requests.flatMap((r) => r.messages.map((m) => m.key))).toEqual(messages.map((m) => m.key));
  });

  it('CoalescingSender: concurrent large commands leave in requests under the limit', async () => {
    const { producer, requests } = fakeProducer();
    const sender = new CoalescingSender(producer, 'commands', { lingerMs: 5 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => sender.sendAll([record(250 * 1024, `actor-${i}`)])));
    expect(requests.flatMap((r) => r.messages)).toHaveLength(12);
    for (const request of requests) expect(requestBytes(request)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
  });
});
