import type { Kafka, Producer, ProducerRecord } from 'kafkajs';
import { newCommand, topicNames } from '@p2/contracts';
import { CommandBus, CommandTooLargeError, MAX_COMMAND_BYTES, ReplyTimeoutError } from '../src/command-bus';
import { MAX_REQUEST_BYTES } from '../src/record-chunks';

/** A Kafka whose producer records each request, as the broker would see it (start() is not called:
 * only the sending side is looked at). */
function fakeKafka(): { kafka: Kafka; requests: ProducerRecord[] } {
  const requests: ProducerRecord[] = [];
  const producer = { send: (request: ProducerRecord) => (requests.push(request), Promise.resolve([])) } as unknown as Producer;
  return { kafka: { producer: () => producer } as unknown as Kafka, requests };
}

const busOf = (kafka: Kafka) => new CommandBus({ kafka, topics: topicNames(''), instanceId: 'gw-test', timeoutMs: 50, lingerMs: 0 });
const upload = (extensionChars: number) =>
  newCommand(
    'AddKeyPackages',
    {
      federationId: 'alice@example.com',
      sessionId: 's',
      serial: '1',
      keyPackages: [{ protocolVersion: 'mls10', cipherSuite: '1', initKey: 'AA==', leafNode: 'AA', extensions: 'x'.repeat(extensionChars) }],
    },
    'command-1',
  );

describe('CommandBus: a command too large for one record', () => {
  it('is a command that fits one produce request alone', () => {
    expect(MAX_COMMAND_BYTES).toBe(MAX_REQUEST_BYTES);
    expect(MAX_COMMAND_BYTES).toBeLessThanOrEqual((1024 * 1024) / 2);
  });

  it('is refused before it is sent, measured as serialised; a command under the bound is sent', async () => {
    const { kafka, requests } = fakeKafka();
    const bus = busOf(kafka);
    const refused = await bus.send(upload(MAX_COMMAND_BYTES), 'keypackages-alice@example.com').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(CommandTooLargeError);
    expect(refused).toEqual(expect.objectContaining({ commandId: 'command-1', maxBytes: MAX_COMMAND_BYTES }));
    expect((refused as CommandTooLargeError).bytes).toBeGreaterThan(MAX_COMMAND_BYTES);
    expect(requests).toEqual([]);
    // measured as serialised: 100 000 NULs are 100 kB as a string and 600 kB as JSON (\u0000 each)
    const plain = upload(0);
    const escaped = { ...plain, data: { ...plain.data, keyPackages: [{ ...plain.data.keyPackages[0]!, extensions: '\u0000'.repeat(100000) }] } };
    expect(await bus.send(escaped, 'keypackages-alice@example.com').catch((error: unknown) => error)).toBeInstanceOf(CommandTooLargeError);
    expect(requests).toEqual([]);
    // under the bound it leaves (and, with no certstore, times out waiting for its reply)
    await expect(bus.send(upload(MAX_COMMAND_BYTES - 2000), 'keypackages-alice@example.com')).rejects.toBeInstanceOf(ReplyTimeoutError);
    expect(requests).toHaveLength(1);
  });
});
