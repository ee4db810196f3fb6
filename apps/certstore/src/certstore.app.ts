import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { CustomStrategy } from '@nestjs/microservices';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { AppConfig } from '@p2/config';
import type { Clock } from '@p2/platform';
import { Logger } from 'nestjs-pino';
import { CertstoreModule } from './certstore.module';
import { migrateDatabase } from './database/migrations';
import { COMMAND_TRANSPORT } from './messaging/command-transport.provider';
import { CacheSignerService } from './signing/cache-signer.service';
import { ServerKeyService } from './signing/server-key.service';
import { CredentialKeysService } from './signing/credential-keys.service';

/** How a certstore is started besides its configuration. */
export interface CertstoreOptions {
  /** the clock decisions and expiries read (default: the system clock); tests share one between apps */
  readonly clock?: Clock;
}

/**
 * Builds and starts a certstore: migrations, server key, the commands microservice, relay,
 * /healthz. Used by main.ts and by the end-to-end tests (which run several side by side).
 *
 * A hybrid application (one Nest container serving HTTP and the custom Kafka transport) rather
 * than `NestFactory.createMicroservice` with a second server beside it: /healthz (and later
 * /metrics) and the command handlers share one module, one set of providers and one shutdown, and
 * the health controller is the same one the gateway uses.
 */
export async function startCertstore(config: AppConfig, port = config.certstorePort, options: CertstoreOptions = {}): Promise<NestFastifyApplication> {
  await migrateDatabase(config.databaseUrl, (line) => process.stdout.write(`[certstore] ${line}\n`), { gatewayPassword: config.gatewayDbPassword });
  const app = await NestFactory.create<NestFastifyApplication>(CertstoreModule.forRoot(config, options.clock), new FastifyAdapter(), {
    // held until the pino logger (ObservabilityModule) takes over
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  // ends with process.exit, not the signal again: pino writes its last block of lines on 'exit'
  app.enableShutdownHooks([], { useProcessExit: true });
  app.connectMicroservice<CustomStrategy>({ strategy: app.get(COMMAND_TRANSPORT) });
  await app.init();
  // Commands are consumed only once the server key is loaded (and cache signatures are current).
  await app.get(ServerKeyService).ensureLoaded();
  await app.get(CredentialKeysService).publish();
  await app.get(CacheSignerService).start();
  await app.startAllMicroservices();
  await app.listen(port, config.certstoreHost);
  return app;
}
