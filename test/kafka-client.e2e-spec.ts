import { randomBytes } from 'node:crypto';
import { createKafka, stopIdleRequestQueueTimers, type KafkaLogger } from '@p2/messaging';
import { kafkaBrokers } from '@p2/testing';

const quiet: KafkaLogger = { error: () => undefined, warn: () => undefined, log: () => undefined };

/** kafkajs' request queue, as the fix sees it. */
const RequestQueue = require('kafkajs/src/network/requestQueue') as { prototype: { checkPendingRequests(): void } };

/** The apps' kafkajs clients (createKafka) on a real broker: an idle connection costs nothing
 * (docs/benchmarks.md#idle-timers). */
describe("the apps' Kafka clients (real Kafka)", () => {
  it('keep no timer running on a connection with nothing to send (kafkajs 2.2.4 looked at each request queue every millisecond)', async () => {
    const kafka = createKafka({ brokers: kafkaBrokers(), clientId: `p2-idle-timers-${randomBytes(3).toString('hex')}`, logger: quiet });
    const admin = kafka.admin();
    await admin.connect();
    const checks = jest.spyOn(RequestQueue.prototype, 'checkPendingRequests');
    try {
      // answered requests: where the loop began, with each answer's check of the queue
      await admin.listTopics();
      await admin.listTopics();
      const afterRequests = checks.mock.calls.length;
      expect(afterRequests).toBeGreaterThan(0);
      // then a window with nothing to send, measured as it is (not waited on): the loop made a
      // check per millisecond in it, ~200 here
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(checks.mock.calls.length - afterRequests).toBe(0);
      // and requests still go through
      await expect(admin.listTopics()).resolves.toEqual(expect.any(Array));
      // the installed kafkajs has the loop (createKafka replaced it already: once per process)
      expect(stopIdleRequestQueueTimers()).toBe('replaced');
    } finally {
      checks.mockRestore();
      await admin.disconnect();
    }
  });
});
