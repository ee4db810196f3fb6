import { connect } from 'node:net';
import type { HttpResult } from './http';

/** Writes `head` (and `body`) as they are on a new connection to `url`'s host and port, and reads the
 * answer until the server closes: for bytes Node's HTTP client would not send (a malformed request,
 * a header value that is not Latin-1). The request should say `Connection: close`; the answer's body
 * is read as sent (not chunked), parsed as JSON when it is JSON, else left as text. */
export async function rawHttp(url: string, head: string | Buffer, body: Buffer = Buffer.alloc(0)): Promise<HttpResult> {
  const { hostname, port } = new URL(url);
  const bytes = await new Promise<Buffer>((resolve, reject) => {
    const request = Buffer.concat([typeof head === 'string' ? Buffer.from(head, 'latin1') : head, body]);
    // written, not ended: a half-closed connection is one the server may drop before it answers
    const socket = connect(Number(port), hostname, () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    // the server may close while the rest of a refused request is still being written
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
  });
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete answer head in ${bytes.length} bytes: ${bytes.toString('latin1').slice(0, 200)}`);
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers = new Headers();
  for (const line of lines) headers.append(line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim());
  const text = bytes.subarray(end + 4).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: parsed, text };
}
