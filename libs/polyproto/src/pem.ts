import { fail } from './errors';

export type PemLabel = 'CERTIFICATE' | 'CERTIFICATE REQUEST' | 'PUBLIC KEY';

/** Inputs longer than this are refused before any parsing (an ID-CSR or ID-Cert is < 1 KiB). */
export const MAX_ENCODED_LENGTH = 64 * 1024;

const PEM_RULE = 'RFC 7468: one PEM block with the expected label, base64 body';
const STRICT_BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const LENIENT_BASE64 = /^[A-Za-z0-9+/\-_]+={0,2}$/;
const BEGIN = /^-----BEGIN ([A-Z0-9 ]{1,40})-----/;
const END = /^-----END ([A-Z0-9 ]{1,40})-----$/;

/**
 * Turns a PEM text (its label must be `label`), bare base64 DER (standard or URL-safe alphabet,
 * padding optional) or raw DER bytes into DER bytes. The result is always a fresh copy.
 * Throws `CSR_MALFORMED` / `CERT_MALFORMED` (field `pem`) for anything else (docs/protocol.md#rejection-cases, case 6).
 * The DER itself is not parsed here.
 */
export function decodePemOrDer(input: string | Uint8Array, label: 'CERTIFICATE REQUEST' | 'CERTIFICATE'): Uint8Array {
  const code = label === 'CERTIFICATE' ? 'CERT_MALFORMED' : 'CSR_MALFORMED';
  let text: string;
  if (input instanceof Uint8Array) {
    if (input.length === 0) fail(code, 'pem', PEM_RULE, 'empty input');
    if (input.length > MAX_ENCODED_LENGTH) fail(code, 'pem', PEM_RULE, 'input too large');
    if (input[0] === 0x30) return Buffer.from(input);
    for (let i = 0; i < input.length; i++) {
      const c = input[i];
      if (c > 0x7e || (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d)) {
        fail(code, 'pem', PEM_RULE, 'bytes are neither DER nor PEM/base64 text');
      }
    }
    text = Buffer.from(input.buffer, input.byteOffset, input.length).toString('latin1');
  } else if (typeof input === 'string') {
    if (input.length > MAX_ENCODED_LENGTH) fail(code, 'pem', PEM_RULE, 'input too large');
    text = input;
  } else {
    return fail(code, 'pem', PEM_RULE, 'expected a string or bytes');
  }
  text = text.trim();
  if (text.length === 0) fail(code, 'pem', PEM_RULE, 'empty input');
  if (text.startsWith('-----')) return decodePem(text, label, code);
  return decodeBase64(text.replace(/\s+/g, ''), LENIENT_BASE64, code, 'bare base64');
}

function decodePem(text: string, label: string, code: string): Uint8Array {
  const begin = BEGIN.exec(text);
  if (!begin) return fail(code, 'pem', PEM_RULE, 'no BEGIN line');
  const endAt = text.lastIndexOf('-----END ');
  if (endAt < begin[0].length) fail(code, 'pem', PEM_RULE, 'no END line');
  const end = END.exec(text.slice(endAt));
  if (!end) return fail(code, 'pem', PEM_RULE, 'malformed END line');
  if (end[1] !== begin[1]) fail(code, 'pem', PEM_RULE, 'BEGIN and END labels differ');
  const found = begin[1];
  const accepted = found === label || (label === 'CERTIFICATE REQUEST' && found === 'NEW CERTIFICATE REQUEST');
  if (!accepted) fail(code, 'pem', `PEM label must be ${label}`, `found ${found}`);
  const body = text.slice(begin[0].length, endAt);
  if (body.includes('-')) fail(code, 'pem', PEM_RULE, 'more than one PEM block');
  const compact = body.replace(/[ \t\r\n]+/g, '');
  if (compact.length % 4 !== 0) fail(code, 'pem', PEM_RULE, 'base64 body length is not a multiple of 4');
  return decodeBase64(compact, STRICT_BASE64, code, 'PEM body');
}

function decodeBase64(b64: string, alphabet: RegExp, code: string, what: string): Uint8Array {
  if (!alphabet.test(b64)) fail(code, 'pem', PEM_RULE, `${what} is not base64`);
  if (b64.length % 4 === 1) fail(code, 'pem', PEM_RULE, `${what} has an impossible base64 length`);
  const der = Buffer.from(b64, 'base64');
  if (der.length === 0) fail(code, 'pem', PEM_RULE, 'no content');
  return der;
}

/** PEM text with 64-character lines and a trailing newline. */
export function toPem(der: Uint8Array, label: PemLabel): string {
  if (!(der instanceof Uint8Array)) fail('PEM_ARGUMENT_INVALID', 'der', 'DER bytes are required');
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.length).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}
