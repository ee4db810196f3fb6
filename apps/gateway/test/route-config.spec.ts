import 'reflect-metadata';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import { GetOnly, isGetOnly } from '../src/http/get-only.guard';
import { RawBodyAs, ListBodyAs } from '../src/http/lenient-body';

const configOf = (handler: unknown) => Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler as object) as Record<string, unknown>;

describe('route configuration decorators', () => {
  it('keep each other\'s keys, in either order', () => {
    class Routes {
      @GetOnly()
      @RawBodyAs('csr')
      below(): void {}

      @RawBodyAs('csr')
      @GetOnly()
      above(): void {}

      @ListBodyAs('serial', ['serials'])
      @GetOnly()
      list(): void {}
    }
    for (const handler of [Routes.prototype.below, Routes.prototype.above]) {
      expect(configOf(handler)).toEqual({ bodyField: 'csr', getOnly: true });
      expect(isGetOnly(configOf(handler))).toBe(true);
    }
    expect(configOf(Routes.prototype.list)).toEqual({ listBodyField: 'serial', listBodyAliases: ['serials'], getOnly: true });
  });

  it('leave other routes of the class alone', () => {
    class Routes {
      @GetOnly()
      marked(): void {}

      @RawBodyAs('id_cert')
      raw(): void {}
    }
    expect(configOf(Routes.prototype.marked)).toEqual({ getOnly: true });
    expect(configOf(Routes.prototype.raw)).toEqual({ bodyField: 'id_cert' });
  });
});
