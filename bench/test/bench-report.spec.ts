import { interleave, spread } from '../src/fixtures/bench-world';
import { percentile } from '../src/load/load-job';
import { formatErrors, markdownTable, type ReportRow } from '../src/report/bench-report';
import { throughputChartSvg } from '../src/report/throughput-chart.svg';

const ceiling: ReportRow = { kind: 'ceiling', name: 'scrypt', route: 'gateway password check (scrypt)', connections: 16, perSecond: 48.25, p50Ms: 330.4, p99Ms: 612, errors: {}, notes: [] };
const phase: ReportRow = {
  kind: 'phase',
  name: 'open',
  route: 'POST /session/trust',
  connections: 16,
  perSecond: 40.5,
  p50Ms: 390.2,
  p99Ms: 1234.5,
  errors: { '503': 3, timeout: 1 },
  ceiling: { label: 'scrypt', perSecond: 48.25 },
  notes: ['inputs ran out after 4.2 s (120 prepared)'],
};

describe('bench report', () => {
  it('one markdown row per figure: rate, latencies, errors by kind, the ceiling and the ratio', () => {
    expect(markdownTable([ceiling, phase]).split('\n')).toEqual([
      '| phase | route | conns | ops/s | p50 ms | p99 ms | errors | ceiling (same conns) | ceiling ops/s | ratio | notes |',
      '|---|---|---|---:|---:|---:|---|---|---:|---:|---|',
      '| **ceiling: scrypt** | `gateway password check (scrypt)` | 16 | 48.3 | 330 | 612 | 0 |  |  |  |  |',
      '| open | `POST /session/trust` | 16 | 40.5 | 390 | 1,235 | 3× 503, 1× timeout | scrypt | 48.3 | 0.84 | inputs ran out after 4.2 s (120 prepared) |',
    ]);
  });

  it('errors: "0" only when nothing failed', () => {
    expect(formatErrors({})).toBe('0');
    expect(formatErrors({ '409': 0 })).toBe('0');
    expect(formatErrors({ '409': 1200 })).toBe('1,200× 409');
  });

  it('the chart has a bar per phase and connection count, an outline per ceiling, escaped text', () => {
    const svg = throughputChartSvg([ceiling, phase, { ...phase, connections: 64, perSecond: 44 }], 'a <title> & more');
    expect(svg).toMatch(/^<svg [^>]*>\n[\s\S]*<\/svg>\n$/);
    expect(svg).toContain('a &lt;title&gt; &amp; more');
    expect(svg.match(/<title>open at \d+: [\d.]+ ops\/s<\/title>/g)).toEqual(['<title>open at 16: 40.5 ops/s</title>', '<title>open at 64: 44.0 ops/s</title>']);
    expect(svg.match(/stroke-dasharray="3,2"><title>scrypt: 48.3\/s<\/title>/g)).toHaveLength(2);
  });

  it('percentile: nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(values, 50), percentile(values, 99), percentile(values, 100), percentile([], 50)]).toEqual([50, 99, 100, 0]);
  });
});

describe('spreading inputs', () => {
  it('interleave: the first of every list, then the second, …', () => {
    expect(interleave([['a1', 'a2', 'a3'], ['b1'], ['c1', 'c2']])).toEqual(['a1', 'b1', 'c1', 'a2', 'c2', 'a3']);
  });

  it('spread: round-robin within each item’s capacity, fewer picks when the capacities run out', () => {
    const capacity = { a: 1, b: 3, c: 0 } as Record<string, number>;
    expect(spread(['a', 'b', 'c'], 3, (x) => capacity[x]!)).toEqual(['a', 'b', 'b']);
    expect(spread(['a', 'b', 'c'], 9, (x) => capacity[x]!)).toEqual(['a', 'b', 'b', 'b']);
  });
});
