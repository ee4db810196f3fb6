import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODE } from '@p2/contracts';
import { ApiError } from './api-error';

/**
 * For a GET that hands out what it answers once (GET /events acknowledges the items it returns,
 * GET /keypackage/:fid consumes KeyPackages). Fastify answers HEAD on every GET route by running
 * the GET's handler and dropping the body, so a HEAD used those up and nobody ever saw them: it is
 * refused here, first among the route's guards, with 405 and `Allow: GET`.
 */
@Injectable()
export class GetOnlyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    if (http.getRequest<FastifyRequest>().method !== 'HEAD') return true;
    void http.getResponse<FastifyReply>().header('allow', 'GET');
    throw new ApiError(405, ERROR_CODE.methodNotAllowed, 'This route hands out what it answers once, which a HEAD would use up unseen: send GET.');
  }
}
