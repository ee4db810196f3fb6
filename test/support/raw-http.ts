import { connect } from 'node:net';
import type { HttpResult } from './http';

/** Writes `request` as it is on a new connection to `url`'s host and port, and reads the answer
 * until the server closes: for bytes Node's HTTP client would not send (a header value that is not
 * Latin-1). The request should say `Connection: close`; the body is read as sent (not chunked). */
export async function rawHttp(url: string, request: Buffer): Promise<HttpResult> {
  const { hostname, port } = new URL(url);
  const bytes = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete answer head in ${bytes.length} bytes: ${bytes.toString('latin1').slice(0, 200)}`);
  const [statusLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers = new Headers();
  for (const line of lines) headers.append(line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim());
  const text = bytes.subarray(end + 4).toString('utf8');
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body, text };
}
