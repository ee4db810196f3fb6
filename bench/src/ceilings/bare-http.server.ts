/**
 * Ceiling (1): a bare Node HTTP server answering a small JSON body, in a process of its own like a
 * gateway. Driven by the same load generator at the same concurrency as the phases, its rate is the
 * most the load generator can measure on this machine. Sends its port to the parent once listening.
 */
import { createServer } from 'node:http';

const BODY = JSON.stringify({ ok: true, service: 'bare-http-ceiling' });

const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) });
    response.end(BODY);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.send!({ port: typeof address === 'object' && address ? address.port : 0 });
});
process.on('disconnect', () => process.exit(0));
