import type { AuditEntry, TelemetrySnapshot } from '@p2/observability';
import { healthOf, renderMonitor } from '../src/monitor/monitor-view';

const now = new Date('2030-01-01T12:00:00Z');

function snapshot(instance: string, role: 'gateway' | 'certstore', overrides: Partial<TelemetrySnapshot> = {}): TelemetrySnapshot {
  return {
    schemaVersion: 1,
    role,
    instance,
    version: '0.1.0',
    host: 'h',
    pid: 1,
    at: new Date(now.getTime() - 1000).toISOString(),
    startedAt: '2030-01-01T11:00:00Z',
    uptimeSeconds: 3600,
    intervalSeconds: 5,
    status: 'ready',
    checks: { kafka: true },
    http: { requests: 50, requestsPerSecond: 10, status5xx: 1, routes: [{ route: '/x', method: 'GET', count: 50, perSecond: 10, status4xx: 0, status5xx: 1, latencyMs: { p50: 1, p95: 2, p99: 12.5, max: 20 } }] },
    commands: { handled: 0, perSecond: 0, byType: [], batchSize: { batches: 0, p50: 0, p99: 0, max: 0 } },
    consumerLag: [{ topic: 't', partition: 0, lag: 3 }],
    relay: role === 'certstore' ? { active: true, lagEvents: 7 } : null,
    projections: { rebuilding: null },
    database: { max: 20, total: 5, idle: 3, waiting: 0 },
    caches: [],
    process: { rssBytes: 1, heapUsedBytes: 1 },
    ...overrides,
  };
}

describe('the monitor screen', () => {
  it('tells ready, not-ready, stopped and stale instances apart', () => {
    expect(healthOf(snapshot('a', 'gateway'), now)).toBe('ready');
    expect(healthOf(snapshot('a', 'gateway', { status: 'not-ready' }), now)).toBe('not-ready');
    expect(healthOf(snapshot('a', 'gateway', { status: 'stopping' }), now)).toBe('stopped');
    expect(healthOf(snapshot('a', 'gateway', { at: new Date(now.getTime() - 20_000).toISOString() }), now)).toBe('stale');
  });

  it('has one row per instance, the totals of the live ones, the audit entries and the DLQ count', () => {
    const instances = new Map([
      ['gw-1', snapshot('gw-1', 'gateway')],
      ['cs-1', snapshot('cs-1', 'certstore', { checks: { kafka: true, 'commands-group': false }, status: 'not-ready' })],
      ['gw-old', snapshot('gw-old', 'gateway', { at: new Date(now.getTime() - 60_000).toISOString() })],
      ['gw-gone', snapshot('gw-gone', 'gateway', { at: new Date(now.getTime() - 3_600_000).toISOString() })],
    ]);
    const audit = [{ at: '2030-01-01T11:59:00Z', kind: 'login.failed', actor: 'eve@example.com', clientAddress: '10.0.0.9', reason: 'wrong-password', route: '/.p2/core/v1/session/trust', instance: 'gw-1' } as AuditEntry];
    const screen = renderMonitor({ telemetryTopic: 'p2.core.telemetry.v1', instances, audit, deadLetters: 2 }, now);
    expect(screen).toMatch(/^instances 1\/3 ready\s+http 20\.0\/s \(5xx 2\)\s+commands 0\.0\/s\s+consumer lag 6\s+relay lag 7\s+DLQ 2$/m);
    expect(screen).toMatch(/^cs-1\s+certstore\s+not-ready\s+1s ago\s+60m\s+10\.0\s+-\s+-\s+0\.0\s+-\s+0\s+3\s+7\*\s+2\/20\s+0\.1\.0$/m);
    expect(screen).toMatch(/^gw-1\s+gateway\s+ready\s+1s ago\s+60m\s+10\.0\s+12\.5ms\s+1\s/m);
    expect(screen).toMatch(/^gw-old\s+gateway\s+stale\s+60s ago/m);
    expect(screen).not.toContain('gw-gone');
    expect(screen).toContain('failing checks: cs-1: commands-group');
    expect(screen).toMatch(/login\.failed\s+eve@example\.com\s+10\.0\.0\.9\s+wrong-password/);
  });

  it('says so when there is no telemetry yet', () => {
    expect(renderMonitor({ telemetryTopic: 'x.p2.core.telemetry.v1', instances: new Map(), audit: [], deadLetters: null }, now)).toContain('no telemetry on x.p2.core.telemetry.v1 yet');
  });
});
