import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { accessLogger, createRootLogger, httpLoggerOptions, markRoutineAnswer, runWithCorrelation } from '@p2/observability';
import { eventually } from '@p2/testing';

/** The JSON lines of a log file, once it holds `count` of them (pino writes asynchronously). */
const jsonLines = (file: string, count: number) =>
  eventually(
    () =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    { until: (l) => l.length === count },
  );

describe('the process logger', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2-log-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes JSON lines with role, instance and the current correlation id, and redacts secrets', async () => {
    const file = join(dir, 'app.log');
    const logger = createRootLogger({ role: 'gateway', instance: 'gw-7', level: 'debug', format: 'json', file });
    runWithCorrelation({ correlationId: 'corr-1', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }, () =>
      logger.info({ req: { headers: { authorization: 'Bearer s3cret-token', 'x-p2-sensitive-solution': 'hunter22' } }, body: { password: 'pw-123', passwordHash: 'scrypt$1' } }, 'handled'),
    );
    logger.debug('outside');
    logger.flush();
    const lines = await jsonLines(file, 2);
    expect(lines[0]).toEqual(expect.objectContaining({ role: 'gateway', instance: 'gw-7', correlationId: 'corr-1', msg: 'handled' }));
    expect(lines[1]).not.toHaveProperty('correlationId');
    const text = readFileSync(file, 'utf8');
    for (const secret of ['s3cret-token', 'hunter22', 'pw-123', 'scrypt$1']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
  });
});

describe('access log levels (pino-http)', () => {
  const levelOf = (url: string, status: number, routine: boolean, error?: Error) => {
    const req = new IncomingMessage(new Socket());
    req.url = url;
    const res = new ServerResponse(req);
    res.statusCode = status;
    if (routine) markRoutineAnswer(res);
    const options = httpLoggerOptions(createRootLogger({ role: 'gateway', instance: 'gw-1', level: 'info', format: 'json' }));
    return options.customLogLevel!(req, res, error);
  };

  it('logs answers at info, routine ones (served from memory) at debug, failures at error, probes not at all', () => {
    expect(levelOf('/.p2/core/v1/key/server', 200, false)).toBe('info');
    expect(levelOf('/.p2/core/v1/key/server', 304, true)).toBe('debug');
    expect(levelOf('/.p2/core/v1/key/server', 200, true)).toBe('debug');
    expect(levelOf('/.p2/core/v1/key/server', 503, true)).toBe('error');
    expect(levelOf('/healthz/ready', 200, false)).toBe('silent');
  });
});

describe('access lines written by the HTTP hooks (a gateway)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2-access-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one line per answer with the request id, method, target, status and time; probes none; routine answers at debug', async () => {
    const file = join(dir, 'access.log');
    const log = accessLogger(createRootLogger({ role: 'gateway', instance: 'gw-2', level: 'info', format: 'json', file }));
    const answer = (method: string, url: string, status: number, routine = false) => {
      const req = new IncomingMessage(new Socket());
      req.method = method;
      req.url = url;
      req.headers = { 'x-request-id': `id-${status}`, authorization: 'Bearer s3cret-token' };
      const res = new ServerResponse(req);
      res.statusCode = status;
      if (routine) markRoutineAnswer(res);
      log(req, res, 3.4);
    };
    answer('POST', '/.p2/core/v1/keypackage/@me', 201);
    answer('GET', '/healthz/ready', 200);
    answer('GET', '/.p2/core/v1/key/server', 200, true);
    answer('PUT', '/.p2/core/v1/keypackage_lr', 503);
    const lines = await jsonLines(file, 2);
    expect(lines[0]).toEqual(
      expect.objectContaining({
        level: 30,
        role: 'gateway',
        instance: 'gw-2',
        reqId: 'id-201',
        req: { id: 'id-201', method: 'POST', url: '/.p2/core/v1/keypackage/@me' },
        res: { statusCode: 201 },
        responseTime: 3,
        msg: 'POST /.p2/core/v1/keypackage/@me 201',
      }),
    );
    expect(lines[1]).toEqual(expect.objectContaining({ level: 50, reqId: 'id-503', res: { statusCode: 503 }, msg: 'PUT /.p2/core/v1/keypackage_lr 503: failed with status code 503' }));
    expect(readFileSync(file, 'utf8')).not.toContain('s3cret-token');
  });
});
