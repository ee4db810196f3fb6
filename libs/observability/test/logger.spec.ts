import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRootLogger, runWithCorrelation } from '@p2/observability';
import { eventually } from '@p2/testing';

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
    const lines = await eventually(
      () =>
        readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      { until: (l) => l.length === 2 },
    );
    expect(lines[0]).toEqual(expect.objectContaining({ role: 'gateway', instance: 'gw-7', correlationId: 'corr-1', msg: 'handled' }));
    expect(lines[1]).not.toHaveProperty('correlationId');
    const text = readFileSync(file, 'utf8');
    for (const secret of ['s3cret-token', 'hunter22', 'pw-123', 'scrypt$1']) expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
  });
});
