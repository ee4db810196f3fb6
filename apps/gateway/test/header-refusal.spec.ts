import type { IncomingMessage } from 'node:http';
import { headerRefusal } from '../src/http/framework-errors';

/** A request as Node's parser hands it over: raw headers as sent, `headers` as Node folds them. */
function request(rawHeaders: string[], httpVersion: [number, number] = [1, 1]): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    headers[name] = headers[name] === undefined ? rawHeaders[i + 1]! : `${headers[name]}, ${rawHeaders[i + 1]}`;
  }
  return { rawHeaders, headers, httpVersionMajor: httpVersion[0], httpVersionMinor: httpVersion[1] } as unknown as IncomingMessage;
}

describe('headerRefusal', () => {
  it('takes an ordinary request, HTTP/1.0 without Host, and chunked in any case', () => {
    expect(headerRefusal(request(['Host', 'a', 'Authorization', 'Bearer x', 'X-P2-Sensitive-Solution', 'pw']))).toBeUndefined();
    expect(headerRefusal(request([], [1, 0]))).toBeUndefined();
    expect(headerRefusal(request(['Host', 'a', 'Transfer-Encoding', ' Chunked ']))).toBeUndefined();
  });

  it('refuses a missing or repeated Host, and a repeated Authorization or X-P2-Sensitive-Solution, in any case of the name', () => {
    expect(headerRefusal(request([]))?.message).toBe('An HTTP/1.1 request must carry a Host header.');
    expect(headerRefusal(request(['Host', 'a', 'HOST', 'b']))?.message).toBe('The request carries more than one Host header.');
    expect(headerRefusal(request(['Host', 'a', 'authorization', 'Bearer x', 'Authorization', 'Bearer y']))?.message).toBe('The request carries more than one Authorization header.');
    expect(headerRefusal(request(['Host', 'a', 'x-p2-sensitive-solution', 'p', 'X-P2-SENSITIVE-SOLUTION', 'q']))?.errcode).toBe(400);
  });

  it('answers a transfer coding other than chunked 501', () => {
    for (const coding of ['gzip, chunked', 'gzip', ', chunked']) expect([coding, headerRefusal(request(['Host', 'a', 'Transfer-Encoding', coding]))?.errcode]).toEqual([coding, 501]);
  });
});
