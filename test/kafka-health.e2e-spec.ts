import type { Socket } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaHealthProbe } from '@p2/messaging';
import { eventually, kafkaBrokers } from '@p2/testing';

/** The sockets this process holds to `port` (kafkajs connects to the address the broker advertises,
 * which is the one it was given here). */
function socketsTo(port: number): number {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h): h is Socket => typeof h === 'object' && h !== null && (h as Socket).remotePort === port && !(h as Socket).destroyed).length;
}

/** GET /healthz's Kafka probe keeps an admin client between checks; closing it with the app must
 * leave no socket behind, even when a check is still connecting (docs/architecture.md#postgres-down). */
describe('the Kafka health probe (real Kafka)', () => {
  const broker = kafkaBrokers()[0]!;
  const port = Number(broker.slice(broker.lastIndexOf(':') + 1));
  const kafka = () => new Kafka({ clientId: 'p2-kafka-health-test', brokers: [broker], logLevel: logLevel.NOTHING });

  it('answers true for a broker that responds, and closing it closes its connections', async () => {
    expect(socketsTo(port)).toBe(0);
    const probe = new KafkaHealthProbe(kafka());
    await expect(probe.check(5000)).resolves.toBe(true);
    expect(socketsTo(port)).toBeGreaterThan(0);
    await probe.close();
    await eventually(() => socketsTo(port), { until: (n) => n === 0, what: 'sockets to the broker after close' });
  });

  it('closing while a check is connecting waits for it and leaves no socket open', async () => {
    const probe = new KafkaHealthProbe(kafka());
    const check = probe.check(5000);
    await probe.close();
    await check;
    await eventually(() => socketsTo(port), { until: (n) => n === 0, what: 'sockets to the broker after close' });
  });

  it('answers false after it was closed (the app is shutting down) without connecting again', async () => {
    const probe = new KafkaHealthProbe(kafka());
    await probe.close();
    await expect(probe.check(5000)).resolves.toBe(false);
    expect(socketsTo(port)).toBe(0);
  });

  it('answers false when no broker answers', async () => {
    const probe = new KafkaHealthProbe(new Kafka({ clientId: 'p2-kafka-health-test', brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING, retry: { retries: 0 } }));
    await expect(probe.check(1000)).resolves.toBe(false);
    await probe.close();
  });
});
