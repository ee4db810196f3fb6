import { csrFromRequest } from '../src/http/csr-field';
import { ApiError } from '../src/http/api-error';
import { makeCsr, pem } from '../../../libs/polyproto/test/fixtures/csr-factory';

const policy = { domain: 'example.com', actorLocalName: 'alice' };

/** docs/protocol.md#pem-fields: a CSR field or body may be raw PEM, a JSON string holding that PEM,
 * or bare base64 DER — the same forms an ID-Cert field takes. */
describe('csrFromRequest', () => {
  const der = makeCsr();
  const text = pem(der);

  it.each([
    ['raw PEM in {csr}', { csr: text }],
    ['raw PEM as the body', text],
    ['base64 DER in {csr}', { csr: Buffer.from(der).toString('base64') }],
    ['a JSON string holding the PEM in {csr}', { csr: JSON.stringify(text) }],
    ['a JSON string holding base64 DER in {csr}', { csr: JSON.stringify(Buffer.from(der).toString('base64')) }],
  ])('reads %s', (_label, body) => {
    const { der: read, csr } = csrFromRequest(body, policy);
    expect(Buffer.from(read).equals(Buffer.from(der))).toBe(true);
    expect(csr.federationId.toString()).toBe('alice@example.com');
  });

  it.each([
    ['a JSON value that is not a string', 'P2CORE_INVALID_CSR', { csr: '"unterminated' }],
    ['a JSON number', 'P2CORE_INVALID_CSR', { csr: '12' }],
    ['garbage', 'P2CORE_INVALID_CSR', { csr: 'not a csr' }],
    ['no CSR at all', 'P2CORE_MALFORMED_REQUEST', { other: 'field' }],
  ])('refuses %s with 400 %s', (_label, code, body) => {
    let refusal: unknown;
    try {
      csrFromRequest(body, policy);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ApiError);
    expect({ status: (refusal as ApiError).status, code: (refusal as ApiError).code }).toEqual({ status: 400, code });
  });
});
