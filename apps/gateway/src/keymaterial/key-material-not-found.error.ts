import { ERROR_CODE } from '@p2/contracts';
import { ApiError } from '../http/api-error';

/** A GET naming serials that have no key material: a 404 whose body is the JSON array of those
 * serials (decimal strings), as the 2024 text answers it (docs/protocol.md#key-material-404) —
 * the one error answer without the `{errcode, error, message}` body. */
export class KeyMaterialNotFoundError extends ApiError {
  constructor(readonly missingSerials: readonly string[]) {
    super(
      404,
      ERROR_CODE.keyMaterialNotFound,
      `No key material is stored for ${missingSerials.length === 1 ? 'the serial' : `${missingSerials.length} of the requested serials`}.`,
    );
  }

  override toBody(): string[] {
    return [...this.missingSerials];
  }
}
