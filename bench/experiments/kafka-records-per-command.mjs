#!/usr/bin/env node
// What kafkajs costs per command, with one Kafka record per command (today's commands and replies)
// against one record carrying several commands: the question behind "several commands per record"
// (docs/benchmarks.md#where-the-time-goes). One process produces 20,000 commands of the size of a
// KeyPackage upload, 20 per produce request, to a one-partition topic of its own and consumes them
// (JSON.parse of each record); it prints the process's CPU per command, and the broker's when
// BROKER_PID is given (its /proc figures include the ~3 s the consumer waits before the first send).
//
//   KAFKA_BROKERS=127.0.0.1:19092 [BROKER_PID=<pid>] node bench/experiments/kafka-records-per-command.mjs [commands per record...]
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, Partitioners } from 'kafkajs';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const groupings = process.argv.slice(2).map(Number).filter((n) => n > 0);
const TOTAL = 20_000;
const PER_REQUEST = 20;

const command = () => ({
  type: 'AddKeyPackages',
  metadata: { messageId: randomUUID(), correlationId: randomUUID(), causationId: null, occurredAt: new Date().toISOString(), schemaVersion: 1 },
  data: {
    federationId: 'actor123@bench.example',
    sessionId: 'sess-0001',
    serial: '1234567890123456789',
    keyPackages: [{ protocolVersion: 'mls10', cipherSuite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519', initKey: `${randomUUID()}AAAA=`, leafNode: 'AAEAAgADAAQ'.repeat(8), extensions: null }],
  },
});
const headers = () => ({ 'message-type': 'AddKeyPackages', 'correlation-id': randomUUID(), 'reply-to': 'gateway-1', 'reply-partition': '2' });
const brokerTicks = () => {
  if (!process.env.BROKER_PID) return undefined;
  const fields = readFileSync(`/proc/${process.env.BROKER_PID}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
};

async function measure(perRecord) {
  const kafka = new Kafka({ brokers, clientId: 'records-per-command', logLevel: logLevel.NOTHING });
  const topic = `experiment-records-${randomUUID().slice(0, 8)}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId: topic, maxWaitTimeInMs: 100 });
  try {
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const commands = Array.from({ length: TOTAL }, command); // built before the clock starts
    let received = 0;
    let allReceived;
    const finished = new Promise((resolve) => (allReceived = resolve));
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const value = JSON.parse(message.value.toString());
          message.headers['reply-to'].toString();
          received += Array.isArray(value) ? value.length : 1;
        }
        if (received >= TOTAL) allReceived();
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 3000)); // the consumer joins its group
    const brokerBefore = brokerTicks();
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < TOTAL; i += PER_REQUEST) {
      const slice = commands.slice(i, i + PER_REQUEST);
      const messages = [];
      for (let j = 0; j < slice.length; j += perRecord) {
        const group = slice.slice(j, j + perRecord);
        messages.push({ key: 'k', value: JSON.stringify(perRecord === 1 ? group[0] : group), headers: headers() });
      }
      await producer.send({ topic, messages });
    }
    await finished;
    const cpu = process.cpuUsage(cpuBefore);
    const brokerAfter = brokerTicks();
    const broker = brokerBefore === undefined ? '' : `, broker ${(((brokerAfter - brokerBefore) * 10_000) / TOTAL).toFixed(0)} µs`;
    process.stdout.write(`${perRecord} command(s) per record: producing and consuming process ${((cpu.user + cpu.system) / TOTAL).toFixed(1)} µs of CPU per command${broker}\n`);
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  }
}

for (const perRecord of groupings.length > 0 ? groupings : [1, 20]) await measure(perRecord);
