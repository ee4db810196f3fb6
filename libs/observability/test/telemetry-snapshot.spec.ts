import { LatencyWindow, ProcessMetrics, buildSnapshot, percentile } from '@p2/observability';

describe('interval figures and snapshots', () => {
  it('gives nearest-rank percentiles of an interval and starts a new one on drain', () => {
    const window = new LatencyWindow();
    for (let i = 1; i <= 100; i++) window.record(i);
    expect(window.drain()).toEqual({ count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
    expect(window.drain()).toEqual({ count: 0, p50: 0, p95: 0, p99: 0, max: 0 });
    expect(percentile([7], 0.99)).toBe(7);
  });

  it('keeps count and max exact beyond the reservoir', () => {
    const window = new LatencyWindow();
    for (let i = 0; i < 10_000; i++) window.record(i === 5000 ? 1e6 : 1);
    const figures = window.drain();
    expect(figures.count).toBe(10_000);
    expect(figures.max).toBe(1e6);
    expect(figures.p50).toBe(1);
  });

  it('builds a snapshot with per-interval rates, counts and hit rates', () => {
    const metrics = new ProcessMetrics('certstore', 'cs-1', '9.9.9');
    metrics.observeCommand('OpenSession', 'accepted', 0.02);
    metrics.observeCommand('OpenSession', 'refused', 0.01);
    metrics.countCommand('OpenSession', 'retried');
    metrics.observeCommand('RegisterActor', 'dead_lettered', 0.5);
    metrics.observeBatch(3);
    const cache = metrics.cache('folded-streams');
    cache.hit();
    cache.hit();
    cache.hit();
    cache.miss();
    const snapshot = buildSnapshot({
      role: 'certstore',
      instance: 'cs-1',
      version: '9.9.9',
      host: 'h',
      pid: 1,
      now: new Date('2030-01-01T00:01:00Z'),
      startedAt: new Date('2030-01-01T00:00:00Z'),
      intervalSeconds: 2,
      status: 'ready',
      checks: { kafka: true },
      interval: metrics.drainInterval(),
      sampled: { relay: { active: true, lagEvents: 4 }, rebuilding: false },
      memory: { rss: 10, heapUsed: 5 },
    });
    expect(snapshot).toEqual(
      expect.objectContaining({ schemaVersion: 1, uptimeSeconds: 60, intervalSeconds: 2, relay: { active: true, lagEvents: 4 }, projections: { rebuilding: false }, consumerLag: null, database: null }),
    );
    expect(snapshot.commands.handled).toBe(3);
    expect(snapshot.commands.perSecond).toBe(1.5);
    expect(snapshot.commands.byType.map((c) => [c.type, c.accepted, c.refused, c.retried, c.dead_lettered])).toEqual([
      ['OpenSession', 1, 1, 1, 0],
      ['RegisterActor', 0, 0, 0, 1],
    ]);
    expect(snapshot.commands.byType[1]!.latencyMs.p99).toBe(500);
    expect(snapshot.commands.batchSize).toEqual({ batches: 1, p50: 3, p99: 3, max: 3 });
    expect(snapshot.caches).toEqual([{ name: 'folded-streams', hits: 3, misses: 1, hitRate: 0.75 }]);
    expect(metrics.drainInterval().commands).toEqual([]);
  });

  it('exposes the gateway figures in Prometheus text, labelled by route pattern', async () => {
    const metrics = new ProcessMetrics('gateway', 'gw-1', '1.0.0');
    metrics.observeHttp('/.p2/core/v1/keypackage/:fid', 'GET', 200, 0.004);
    metrics.observeHttp('/.p2/core/v1/keypackage/:fid', 'GET', 503, 5);
    const text = await metrics.exposition();
    expect(text).toContain('p2_http_requests_total{route="/.p2/core/v1/keypackage/:fid",method="GET",status="503",role="gateway"} 1');
    expect(text).toContain('p2_info{instance_id="gw-1",version="1.0.0",role="gateway"} 1');
    expect(text).not.toContain('p2_commands_total');
    const [route] = metrics.drainInterval().routes;
    expect(route).toEqual(expect.objectContaining({ route: '/.p2/core/v1/keypackage/:fid', method: 'GET', status5xx: 1, status4xx: 0 }));
  });
});
