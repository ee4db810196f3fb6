import { applyDecorators } from '@nestjs/common';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';

/*
 * The answers that many routes share, for the OpenAPI document: written once here so that a route
 * lists only what is its own, and a shared answer cannot drift from one route to the next. Each
 * matches what a guard, the command sender or the rate limiter answers (docs/protocol.md#error-codes).
 */

/** A route behind BearerAuthGuard; `description` when the route says more about when it happens. */
export const ApiAuthenticated = (description = 'P2CORE_UNAUTHORIZED') => ApiResponse({ status: 401, description });

/** A route behind BearerAuthGuard and SensitiveActionGuard (docs/protocol.md#sensitive-actions):
 * the password header, and the answers when it is missing or wrong. */
export const ApiSensitiveAction = (options: { password?: string; forbidden?: string } = {}) =>
  applyDecorators(
    ApiHeader({ name: 'X-P2-Sensitive-Solution', required: true, description: options.password ?? "the actor's password" }),
    ApiResponse({ status: 401, description: 'P2CORE_UNAUTHORIZED or P2CORE_SENSITIVE_SOLUTION_REQUIRED' }),
    ApiResponse({ status: 403, description: options.forbidden ?? 'P2CORE_SENSITIVE_SOLUTION_INVALID' }),
  );

/** Also behind AdminGuard: the administrator's password, and a caller who is none is refused too. */
export const ApiAdministratorAction = () =>
  ApiSensitiveAction({ password: "the administrator's password", forbidden: 'P2CORE_NOT_ADMINISTRATOR or P2CORE_SENSITIVE_SOLUTION_INVALID' });

/** A route that sends a command and waits for its reply (docs/architecture.md#command-path). */
export const ApiSendsCommand = () =>
  applyDecorators(
    ApiResponse({
      status: 502,
      description: 'P2CORE_REPLY_TOO_LARGE (names the command id): the command was handled, but its answer was larger than the certstore can deliver',
    }),
    ApiResponse({ status: 503, description: 'P2CORE_UNAVAILABLE (names the command id): the certstore did not answer in time; retry with the same Idempotency-Key' }),
  );

/** A route the rate limiter guards (docs/protocol.md#rate-limits); `detail` says what is counted. */
export const ApiRateLimited = (detail?: string) =>
  ApiResponse({ status: 429, description: `P2CORE_RATE_LIMITED (with Retry-After)${detail === undefined ? '' : `: ${detail}`}` });
