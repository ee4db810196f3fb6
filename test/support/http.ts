import { request } from 'node:http';

/** A tiny HTTP client for the end-to-end tests (Node's fetch), returning status, headers and the
 * parsed JSON body (or the text when it is not JSON). */
export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly text: string;
}

export async function http(
  method: string,
  url: string,
  options: { json?: unknown; body?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  // Node's client sends GET/DELETE bodies without framing unless told the length (reqwest sets it).
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  // node:http rather than fetch: polyproto-rs sends bodies on GET, and fetch refuses to.
  const { status, responseHeaders, text } = await new Promise<{ status: number; responseHeaders: Headers; text: string }>((resolve, reject) => {
    const req = request(url, { method, headers, timeout: 30000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        resolve({ status: res.statusCode ?? 0, responseHeaders, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status, headers: responseHeaders, body: parsed, text };
}

const STACK_TRACE = /\bat .*\.(ts|js):\d+/;

/** Whether `result` is a 4xx with the error body of docs/protocol.md#error-body (its own status as
 * errcode, a P2CORE code, a message, no stack trace): what a generated request may get besides a success. */
export function isClientErrorBody(result: HttpResult): boolean {
  return (
    result.status >= 400 &&
    result.status < 500 &&
    result.body?.errcode === result.status &&
    /^P2CORE_[A-Z_]+$/.test(String(result.body?.error)) &&
    typeof result.body?.message === 'string' &&
    !STACK_TRACE.test(result.text)
  );
}

export function expectErrorBody(result: HttpResult, status: number, code: string): void {
  expect({ status: result.status, error: result.body?.error }).toEqual({ status, error: code });
  expect(result.body).toEqual(expect.objectContaining({ errcode: status, error: code, message: expect.any(String) }));
  expect(result.text).not.toMatch(STACK_TRACE);
}

/** The Authorization header of a request made with a session token. */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
