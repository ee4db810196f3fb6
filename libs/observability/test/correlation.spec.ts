import { childTraceparent, correlationFromHeaders, currentCorrelation, parseTraceparent, runWithCorrelation } from '@p2/observability';

describe('correlation', () => {
  const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('reads W3C traceparent headers and refuses malformed or all-zero ones', () => {
    expect(parseTraceparent(parent)).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: '01' });
    for (const bad of [undefined, '', 'garbage', '00-00000000000000000000000000000000-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01']) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });

  it('makes a child span in the same trace, or a new trace without a parent', () => {
    const child = parseTraceparent(childTraceparent(parent))!;
    expect(child.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(child.spanId).not.toBe('00f067aa0ba902b7');
    const root = parseTraceparent(childTraceparent(undefined))!;
    expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root.traceId).not.toBe(parseTraceparent(childTraceparent(undefined))!.traceId);
  });

  it('draws new ids across refills of its random pool, each well formed and none repeated', () => {
    // 24 bytes per root traceparent; 2,000 of them refill the 4 KiB pool about a dozen times
    const roots = Array.from({ length: 2000 }, () => parseTraceparent(childTraceparent(undefined))!);
    expect(roots.every((r) => /^[0-9a-f]{32}$/.test(r.traceId) && /^[0-9a-f]{16}$/.test(r.spanId))).toBe(true);
    expect(new Set(roots.map((r) => r.traceId)).size).toBe(roots.length);
    expect(new Set(roots.map((r) => r.spanId)).size).toBe(roots.length);
  });

  it('takes X-Request-Id when usable, else the trace id, else a new id', () => {
    expect(correlationFromHeaders({ 'x-request-id': 'abc-123', traceparent: parent })).toEqual({ correlationId: 'abc-123', traceparent: expect.stringMatching(/^00-4bf92f3577b34da6a3ce929d0e0e4736-/) });
    expect(correlationFromHeaders({ 'x-request-id': 'line\nbreak', traceparent: parent }).correlationId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(correlationFromHeaders({ 'x-request-id': 'x'.repeat(129) }).correlationId).toMatch(/^[0-9a-f]{32}$/);
    const fresh = correlationFromHeaders({});
    expect(fresh.correlationId).toBe(parseTraceparent(fresh.traceparent)!.traceId);
  });

  it('keeps the context for everything the work awaits, and none outside it', async () => {
    expect(currentCorrelation()).toBeUndefined();
    const seen = await runWithCorrelation({ correlationId: 'c1', traceparent: parent }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return currentCorrelation()?.correlationId;
    });
    expect(seen).toBe('c1');
    expect(currentCorrelation()).toBeUndefined();
  });
});
