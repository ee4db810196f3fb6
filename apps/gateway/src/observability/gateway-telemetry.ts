import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ProcessMetrics, ReadinessChecks, TelemetryService } from '@p2/observability';
import { CommandSender } from '../messaging/command-sender.service';

/** What a gateway adds to its telemetry and readiness: its replies partition (assigned, and how
 * far behind its reader is). */
@Injectable()
export class GatewayTelemetry implements OnApplicationBootstrap {
  constructor(
    private readonly commands: CommandSender,
    private readonly telemetry: TelemetryService,
    private readonly readiness: ReadinessChecks,
    private readonly metrics: ProcessMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.readiness.register('replies-partition', () => this.commands.isReady);
    this.telemetry.addSampler(async () => {
      const consumerLag = (await this.commands.replyLag()).map(({ topic, partition, lag }) => ({ topic, partition, lag }));
      this.metrics.setConsumerLag(consumerLag);
      return { consumerLag };
    });
  }
}
