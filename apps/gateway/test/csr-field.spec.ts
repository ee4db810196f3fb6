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
    ['a JSON value that is not a string', { csr: '"unterminated' }],
    ['a JSON number', { csr: '12' }],
    ['garbage', { csr: 'not a csr' }],
  ])('refuses %s with 400', (_label, body) => {
    expect(() => csrFromRequest(body, policy)).toThrow(ApiError);
    try {
      csrFromRequest(body, policy);
    } catch (error) {
      expect((error as ApiError).status).toBe(400);
    }
  });
});
