#!/usr/bin/env node
// How long one record takes from a producer to an `eachBatch` consumer set up like the certstore's
// command consumer (12 partitions, 4 at once, 250 ms long poll, TCP_NODELAY), one record at a time,
// with kafkajs' auto-commit on and off: the question behind committing offsets off the path
// (docs/benchmarks.md#offset-commit). Prints the produce acknowledgement and the produce-to-consume
// p50/p90 of 400 records for each setting.
//
//   KAFKA_BROKERS=127.0.0.1:19092 node bench/experiments/kafka-hop-latency.mjs
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Kafka, logLevel } from 'kafkajs';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const RECORDS = 400;

const socketFactory = ({ host, port, onConnect }) => {
  const socket = net.connect({ host, port }, onConnect);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 60000);
  return socket;
};
const percentile = (values, p) => values.slice().sort((a, b) => a - b)[Math.floor(p * (values.length - 1))].toFixed(2);

async function hop(autoCommit) {
  const kafka = new Kafka({ clientId: 'p2-hop-latency', brokers, logLevel: logLevel.NOTHING, socketFactory });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `p2-hop-latency-${Date.now()}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 12 }], waitForLeaders: true });
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: topic, maxWaitTimeInMs: 250, sessionTimeout: 6000, heartbeatInterval: 1000 });
  try {
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let consumed;
    let joined;
    const inGroup = new Promise((resolve) => (joined = resolve));
    consumer.on(consumer.events.GROUP_JOIN, () => joined());
    await consumer.run({
      autoCommit,
      autoCommitInterval: 200,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch, resolveOffset }) => {
        for (const message of batch.messages) {
          resolveOffset(message.offset);
          consumed?.();
        }
      },
    });
    await inGroup;
    const acks = [];
    const hops = [];
    const value = Buffer.alloc(800, 'x');
    for (let i = 0; i < RECORDS; i++) {
      const arrived = new Promise((resolve) => (consumed = resolve));
      const sent = performance.now();
      await producer.send({ topic, messages: [{ key: `k${i % 50}`, value }] });
      acks.push(performance.now() - sent);
      await arrived;
      hops.push(performance.now() - sent);
    }
    console.log(`auto-commit ${autoCommit ? 'on ' : 'off'}: produce ack p50 ${percentile(acks, 0.5)} ms; produce to consume p50 ${percentile(hops, 0.5)} ms, p90 ${percentile(hops, 0.9)} ms`);
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

await hop(true);
await hop(false);
