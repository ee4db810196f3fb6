import 'reflect-metadata';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { AppConfig } from '@p2/config';
import { correlationOfRequest, installRequestObservability, ProcessMetrics, ROOT_LOGGER } from '@p2/observability';
import { CLOCK, type Clock } from '@p2/platform';
import { Logger, PinoLogger } from 'nestjs-pino';
import { GatewayModule } from './gateway.module';
import { installCors } from './http/cors';
import { clientErrorHandler, frameworkErrors, installHeadRefusals, installHeaderChecks, installUrlLengthLimit, MAX_PARAM_LENGTH } from './http/framework-errors';
import { installLenientBodyParsing } from './http/lenient-body';
import { fastifyTrustProxy } from './http/trust-proxy';
import { GatewayWsAdapter } from './live-events/gateway-ws.adapter';
import { ReadCache } from './read-cache/read-cache';
import { DatabaseRoleCheck } from './read-models/database-role.check';
import { installReadCache } from './read-cache/read-cache.http';
import { cachedReadPreRouter, preRoutedServer, type PreRouter } from './read-cache/read-cache.pre-router';

/** How a gateway is started besides its configuration. */
export interface GatewayOptions {
  /** the clock decisions and expiries read (default: the system clock); tests share one between apps */
  readonly clock?: Clock;
}

/** Builds and starts a gateway (HTTP on `port`, 0 = any free port). Used by main.ts and the e2e tests. */
export async function startGateway(config: AppConfig, port = config.port, host = '0.0.0.0', options: GatewayOptions = {}): Promise<NestFastifyApplication> {
  const limits = config.httpServer;
  // set once the application (and so its read cache) exists, before the port opens
  const preRouting: { router?: PreRouter } = {};
  const adapter = new FastifyAdapter({
    // Cached certificate reads are answered before Fastify runs (docs/architecture.md#read-cache).
    serverFactory: (handler: (request: IncomingMessage, response: ServerResponse) => void) =>
      preRoutedServer(
        handler,
        {
          // A client that sends its headers or body slowly holds a socket; these end it (docs/protocol.md#abuse-limits).
          // Upgraded WebSockets leave these deadlines behind and are kept by their heartbeats.
          http: {
            headersTimeout: limits.headersTimeoutMs,
            requestTimeout: limits.requestTimeoutMs,
            // Node checks both deadlines on this tick (default 30 s, longer than a short deadline)
            connectionsCheckingInterval: Math.min(1000, Math.ceil(limits.headersTimeoutMs / 2)),
          },
          requestTimeoutMs: limits.requestTimeoutMs,
          keepAliveTimeoutMs: limits.keepAliveTimeoutMs,
          idleTimeoutMs: limits.idleTimeoutMs,
        },
        () => preRouting.router,
      ),
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // errors raised before a route runs keep the error body (docs/protocol.md#framework-errors)
    frameworkErrors,
    clientErrorHandler,
    // Room for batches of key material items and KeyPackages (a command must stay well under
    // Kafka's 1 MB message limit); larger bodies are a 413.
    bodyLimit: Math.max(256 * 1024, config.keyMaterialMaxBytes * 4),
    // whose X-Forwarded-For names the client, for the per-address limits and the audit log
    // (docs/protocol.md#client-address); nobody's unless configured
    trustProxy: fastifyTrustProxy(limits.trustProxy),
    // the request id is the correlation id (X-Request-Id, traceparent or new): pino-http logs it
    genReqId: (request: IncomingMessage) => correlationOfRequest(request).correlationId,
  });
  const app = await NestFactory.create<NestFastifyApplication>(GatewayModule.forRoot(config, options.clock), adapter, {
    // held until the pino logger (ObservabilityModule) takes over
    bufferLogs: true,
    abortOnError: false,
    // Nest's own JSON/urlencoded parsers would replace the lenient one below.
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  // before anything starts (Kafka, the federation refresher, the port): a gateway with the wrong
  // database role does not run at all
  try {
    await app.get(DatabaseRoleCheck).assertReadOnly();
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  app.useWebSocketAdapter(new GatewayWsAdapter(app));
  installRequestObservability(app.getHttpAdapter().getInstance(), app.get(ProcessMetrics), app.get(ROOT_LOGGER));
  installUrlLengthLimit(app.getHttpAdapter().getInstance());
  installHeaderChecks(app.getHttpAdapter().getInstance());
  // before the routes are registered (at listen): it records them
  installHeadRefusals(app.getHttpAdapter().getInstance());
  installLenientBodyParsing(app.getHttpAdapter().getInstance());
  installCors(app.getHttpAdapter().getInstance());
  // after CORS and the request id: a cached answer carries their headers too
  installReadCache(app.getHttpAdapter().getInstance(), app.get(ReadCache), app.get(CLOCK));
  preRouting.router = cachedReadPreRouter(app.get(ReadCache), app.get(CLOCK), app.get(ProcessMetrics), () => PinoLogger.root);
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('polyproto home server')
      .setDescription('polyproto core routes (May 2024 target, with the 2025 forms the reference client uses). Errors: {errcode, error, message}.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
  // ends with process.exit, not the signal again: pino writes its last block of lines on 'exit'
  app.enableShutdownHooks([], { useProcessExit: true });
  // Node closes each connection past this many at once (a TCP reset for the client).
  app.getHttpServer().maxConnections = limits.maxConnections;
  await app.listen(port, host);
  return app;
}
