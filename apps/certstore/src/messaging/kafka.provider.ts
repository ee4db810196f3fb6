import { Logger, type Provider } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { createKafka } from '@p2/messaging';
import { APP_CONFIG } from '@p2/platform';

export const KAFKA = Symbol('KAFKA');

export const kafkaProvider: Provider = {
  provide: KAFKA,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig) =>
    createKafka({ brokers: config.kafkaBrokers, clientId: `p2-certstore-${config.instanceId}`, logger: new Logger('Kafka') }),
};
