import { OffsetsProbe } from '@p2/messaging';
import { CERTSTORE_GROUP } from '../../../certstore/src/messaging/command-transport.provider';
import { table } from '../io';
import type { OperatorSession } from '../operator-session';

/** `p2ctl lag`: the certstore consumer group's lag per commands partition (committed offsets
 * against the end of each partition), and the dead-letter count. */
export async function lagCommand(session: OperatorSession): Promise<number> {
  const probe = new OffsetsProbe(session.kafka);
  try {
    const group = `${session.env.topicPrefix}${CERTSTORE_GROUP}`;
    const lags = await probe.groupLag(group, session.topics.commands);
    session.io.out(`consumer group ${group} on ${session.topics.commands}`);
    session.io.out(table(['partition', 'committed', 'end', 'lag'], lags.map((l) => [l.partition, l.position, l.high, l.lag])));
    session.io.out(`total lag ${lags.reduce((n, l) => n + l.lag, 0)}; dead letters ${await probe.recordCount(session.topics.deadLetters)}`);
    return 0;
  } finally {
    await probe.close();
  }
}
