import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';

/**
 * Adds keys to a route's Fastify configuration (`config` of the route, read back as
 * `request.routeOptions.config`). Nest's own `@RouteConfig` replaces the whole object, so a route
 * marked twice (a raw body and GET-only) would keep only the decorator applied last; this one merges
 * with what the route already has, in whatever order the decorators are written.
 */
export function AddRouteConfig(config: Record<string, unknown>): MethodDecorator {
  return (_target, _key, descriptor) => {
    const handler = descriptor.value as object;
    const before = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) as Record<string, unknown> | undefined) ?? {};
    Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...before, ...config }, handler);
    return descriptor;
  };
}
