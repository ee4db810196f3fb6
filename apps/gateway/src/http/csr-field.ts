import { ERROR_CODE } from '@p2/contracts';
import { decodePemOrDer, PolyprotoError, readIdCsr, type IdCsr } from '@p2/polyproto';
import { badRequest } from './api-error';
import { unquotedPemField } from './pem-field';

/** An ID-CSR from a request: JSON `{"csr": …}`, a JSON string, or the raw PEM / base64 DER body
 * (polyproto-rs sends raw PEM without a Content-Type). Checked without state as a first pass;
 * the certstore checks again before it signs. */
export function csrFromRequest(body: unknown, policy: { domain: string; actorLocalName: string }): { der: Uint8Array; csr: IdCsr } {
  let field: unknown = body;
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) field = (body as Record<string, unknown>).csr;
  if (typeof field !== 'string' || field.trim() === '') throw badRequest('An ID-CSR is required: a JSON {"csr": "<PEM>"} or the PEM itself as the body.');
  const text = unquotedPemField(field.trim());
  if (text === undefined) throw badRequest('The ID-CSR field holds a JSON value that is not a string.', ERROR_CODE.invalidCsr);
  try {
    const der = decodePemOrDer(text, 'CERTIFICATE REQUEST');
    return { der, csr: readIdCsr(der, policy) };
  } catch (error) {
    if (error instanceof PolyprotoError) throw badRequest(`The ID-CSR was refused: ${error.message}`, ERROR_CODE.invalidCsr);
    throw error;
  }
}
