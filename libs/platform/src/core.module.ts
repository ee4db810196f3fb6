import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { CLOCK, systemClock, type Clock } from './clock';

/** Injection token of the validated {@link AppConfig}. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/**
 * The process-wide values every module reads: the configuration and the clock. Global, as
 * configuration modules usually are; every service and feature module is imported explicitly
 * where it is used.
 */
@Module({})
export class CoreModule {
  /** The root module imports this once with the configuration it was started with. */
  static forRoot(config: AppConfig, clock: Clock = systemClock): DynamicModule {
    return {
      module: CoreModule,
      global: true,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: CLOCK, useValue: clock },
      ],
      exports: [APP_CONFIG, CLOCK],
    };
  }
}
