import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '@p2/config';
import { topicNames } from '@p2/contracts';
import { OffsetsProbe, type KafkaClient, type KafkaCommandTransport } from '@p2/messaging';
import { ProcessMetrics, ReadinessChecks, TelemetryService } from '@p2/observability';
import { sqlOf } from '@p2/event-store';
import { APP_CONFIG } from '@p2/platform';
import type { CommandContext } from '../application/command-context';
import { CERTSTORE_GROUP, COMMAND_TRANSPORT } from '../messaging/command-transport.provider';
import { KAFKA } from '../messaging/kafka.provider';
import { EventRelayService, readRelayCheckpoint } from '../relay/event-relay.service';

/** Counting further than this tells nothing more (and a count must stay cheap). */
const RELAY_LAG_CAP = 100_000;

/** What a certstore adds to its telemetry and readiness: the lag of its commands partitions (the
 * consumer group's committed offsets), the relay's lag, and whether it holds partitions. */
@Injectable()
export class CertstoreTelemetry implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly offsets: OffsetsProbe;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(KAFKA) kafka: KafkaClient,
    @Inject(COMMAND_TRANSPORT) private readonly transport: KafkaCommandTransport<CommandContext>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly relay: EventRelayService,
    private readonly telemetry: TelemetryService,
    private readonly readiness: ReadinessChecks,
    private readonly metrics: ProcessMetrics,
  ) {
    this.offsets = new OffsetsProbe(kafka);
  }

  onApplicationBootstrap(): void {
    // a member of the group (possibly with no partition: more certstores than partitions)
    this.readiness.register('commands-group', () => this.transport.assignedPartitions !== undefined);
    this.telemetry.addSampler(async () => {
      const assigned = this.transport.assignedPartitions;
      const group = `${this.config.kafkaTopicPrefix}${CERTSTORE_GROUP}`;
      const lags = assigned && assigned.length > 0 ? await this.offsets.groupLag(group, topicNames(this.config.kafkaTopicPrefix).commands, assigned) : [];
      const consumerLag = lags.map(({ topic, partition, lag }) => ({ topic, partition, lag }));
      this.metrics.setConsumerLag(consumerLag);
      return { consumerLag };
    });
    this.telemetry.addSampler(async () => {
      const lagEvents = await this.relayLag();
      this.metrics.setRelayLag(lagEvents);
      return { relay: { active: this.relay.isActive, lagEvents } };
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.offsets.close();
  }

  /** Events committed after the relay's checkpoint: not yet on the events topic. */
  private async relayLag(): Promise<number> {
    const checkpoint = await readRelayCheckpoint(sqlOf(this.dataSource.manager));
    const [{ n }]: { n: number }[] =
      checkpoint !== undefined
        ? await this.dataSource.query(
            `SELECT count(*)::int AS n FROM (SELECT 1 FROM events WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint) LIMIT ${RELAY_LAG_CAP}) AS pending`,
            [checkpoint.transactionId, checkpoint.globalPosition],
          )
        : await this.dataSource.query(`SELECT count(*)::int AS n FROM (SELECT 1 FROM events LIMIT ${RELAY_LAG_CAP}) AS pending`);
    return n;
  }
}
