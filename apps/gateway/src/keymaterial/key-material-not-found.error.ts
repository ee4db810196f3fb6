import { ERROR_CODE, type ErrorBody } from '@p2/contracts';
import { ApiError } from '../http/api-error';

/** Profile D9 + D12: a GET naming serials that have no key material is a 404 whose body is the
 * usual error body plus `missing_serials`, the requested serials (decimal strings) with nothing
 * stored — what the 2024 text sends as the whole 404 body. */
export class KeyMaterialNotFoundError extends ApiError {
  constructor(readonly missingSerials: readonly string[]) {
    super(
      404,
      ERROR_CODE.keyMaterialNotFound,
      `No key material is stored for ${missingSerials.length === 1 ? 'the serial' : `${missingSerials.length} of the requested serials`}: see missing_serials.`,
    );
  }

  override toBody(): ErrorBody & { missing_serials: string[] } {
    return { ...super.toBody(), missing_serials: [...this.missingSerials] };
  }
}
