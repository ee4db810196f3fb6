import { ERROR_CODE } from '@p2/contracts';
import { ApiError } from '../http/api-error';

/** 429 with the error body; the exception filter adds `Retry-After` (whole seconds, at least 1). */
export class RateLimitedError extends ApiError {
  readonly retryAfterSeconds: number;

  constructor(retryAfterMs: number, message: string) {
    const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super(429, ERROR_CODE.rateLimited, `${message} Try again in ${retryAfterSeconds} s.`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
