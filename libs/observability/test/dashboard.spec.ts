import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessMetrics } from '@p2/observability';

/** ops/grafana/polyproto.json stays true to what the processes expose. */
describe('the Grafana dashboard', () => {
  it('queries only metric families the gateway or the certstore exposes', async () => {
    const dashboard = JSON.parse(readFileSync(join(__dirname, '../../../ops/grafana/polyproto.json'), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
    const queried = new Set(dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => t.expr.match(/\b(p2|process|nodejs)_[a-z0-9_]+/g) ?? [])));
    const exposed = (await Promise.all([new ProcessMetrics('gateway', 'g', '1').exposition(), new ProcessMetrics('certstore', 'c', '1').exposition()])).join('\n');
    const families = new Set([...exposed.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) => (type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!])));
    expect([...queried].filter((name) => !families.has(name))).toEqual([]);
    expect(queried.size).toBeGreaterThan(10);
  });
});
