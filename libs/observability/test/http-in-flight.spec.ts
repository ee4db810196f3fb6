import { ProcessMetrics } from '@p2/observability';

const inFlight = async (metrics: ProcessMetrics): Promise<string | undefined> => /^p2_http_requests_in_flight\{[^}]*\} (\S+)$/m.exec(await metrics.exposition())?.[1];

describe('p2_http_requests_in_flight', () => {
  it('counts requests taken and not yet ended, each ended once however often its end is reported', async () => {
    const metrics = new ProcessMetrics('gateway', 'g1', 'test');
    const first = metrics.httpRequestStarted();
    const second = metrics.httpRequestStarted();
    expect(await inFlight(metrics)).toBe('2');
    first.ended();
    first.ended();
    expect(await inFlight(metrics)).toBe('1');
    second.ended();
    expect(await inFlight(metrics)).toBe('0');
  });

  it('is a gateway figure: a certstore answers no API requests', async () => {
    expect(await inFlight(new ProcessMetrics('certstore', 'c1', 'test'))).toBeUndefined();
  });
});
