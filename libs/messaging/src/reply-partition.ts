import { AssignerProtocol, Partitioners, type PartitionAssigner } from 'kafkajs';

const ASSIGNER = 'P2OwnPartitions';

/**
 * A partition assigner that gives each member of a group exactly the partitions it asked for (in
 * its join metadata). kafkajs has no manual `assign()`; a gateway's reply consumer is the only
 * member of a group of its own, so with this assigner it reads its own reply partition and no
 * other gateway's replies.
 */
export function ownPartitionsAssigner(partitions: readonly number[]): PartitionAssigner {
  return () => ({
    name: ASSIGNER,
    version: 1,
    protocol({ topics }) {
      return { name: ASSIGNER, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.from(JSON.stringify(partitions)) }) };
    },
    async assign({ members, topics }) {
      return members.map(({ memberId, memberMetadata }) => {
        const wanted = JSON.parse(AssignerProtocol.MemberMetadata.decode(memberMetadata)?.userData.toString() || '[]') as number[];
        const assignment = Object.fromEntries(topics.map((topic) => [topic, wanted]));
        return { memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment, userData: Buffer.alloc(0) }) };
      });
    },
  });
}

/** The partition Kafka's default partitioner (murmur2, as the Java client) puts `key` in, among
 * `count` partitions. */
export function partitionOfKey(key: string, count: number): number {
  const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({ partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0] }));
  return Partitioners.DefaultPartitioner()({ topic: 'any', partitionMetadata, message: { key, value: null } });
}
