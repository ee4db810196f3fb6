import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { nestLogLevels, type AppConfig } from '@p2/config';
import { CertstoreModule } from './certstore.module';
import { migrateDatabase } from './database/migrations';


/** Builds and starts a certstore: migrations, server key, consumer group, relay, /healthz.
 * Used by main.ts and by the end-to-end tests (which run several side by side). */
export async function startCertstore(config: AppConfig, port = config.certstorePort): Promise<NestFastifyApplication> {
  await migrateDatabase(config.databaseUrl, (line) => process.stdout.write(`[certstore] ${line}\n`));
  const app = await NestFactory.create<NestFastifyApplication>(CertstoreModule.forRoot(config), new FastifyAdapter(), {
    logger: nestLogLevels(config.logLevel),
    abortOnError: false,
  });
  app.enableShutdownHooks();
  await app.listen(port, '127.0.0.1');
  return app;
}
