import { applyDecorators, Injectable, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODE } from '@p2/contracts';
import { ApiError } from './api-error';
import { AddRouteConfig } from './route-config';

/** The route configuration key {@link GetOnly} sets; read where routes are registered
 * (framework-errors.ts), so a 405's `Allow` leaves out the HEAD such a route refuses. */
export const GET_ONLY = 'getOnly';

/** Whether a route's Fastify configuration marks it {@link GetOnly}. Fastify builds a GET route's
 * HEAD twin from the GET's options, so the twin carries the mark too. */
export function isGetOnly(config: unknown): boolean {
  return typeof config === 'object' && config !== null && (config as Record<string, unknown>)[GET_ONLY] === true;
}

/**
 * For a GET that hands out what it answers once (GET /events acknowledges the items it returns,
 * GET /keypackage/:fid consumes KeyPackages, GET /challenge draws a new challenge and counts it
 * against the rate limit). Fastify answers HEAD on every GET route by running the GET's handler and
 * dropping the body, so a HEAD used those up and nobody ever saw them: it is refused here, first
 * among the route's guards, with 405 and `Allow: GET`.
 */
@Injectable()
export class GetOnlyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    if (http.getRequest<FastifyRequest>().method !== 'HEAD') return true;
    void http.getResponse<FastifyReply>().header('allow', 'GET');
    throw new ApiError(405, ERROR_CODE.methodNotAllowed, 'This route hands out each answer once, which a HEAD would spend unseen: send GET.');
  }
}

/**
 * A GET route that answers HEAD with 405 (GetOnlyGuard) and whose path's 405s for other methods do
 * not list HEAD in `Allow` (docs/protocol.md#framework-errors). Put it below the route's other
 * `@UseGuards`: decorators apply bottom-up, so its guard runs first, before the token is looked at.
 * Its mark joins the route's other Fastify configuration (RawBodyAs and its siblings) instead of
 * replacing it.
 */
export const GetOnly = () => applyDecorators(UseGuards(GetOnlyGuard), AddRouteConfig({ [GET_ONLY]: true }));
