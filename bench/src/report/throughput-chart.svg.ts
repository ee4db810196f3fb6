/**
 * docs/benchmarks.svg: per phase, one bar per connection count (ops/s, log scale), drawn inside
 * an outline of its ceiling at the same concurrency. Plain SVG text, no dependency.
 */
import { formatRate, type ReportRow } from './bench-report';

const WIDTH = 980;
const LABEL_WIDTH = 250;
const PLOT_LEFT = LABEL_WIDTH + 10;
const PLOT_RIGHT = WIDTH - 115;
const BAR = 12;
const BAR_GAP = 3;
const GROUP_GAP = 12;
const TOP = 70;
const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#e45756', '#72b7b2'];

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function throughputChartSvg(rows: readonly ReportRow[], title: string): string {
  const phases = rows.filter((r) => r.kind === 'phase');
  const connections = [...new Set(phases.map((r) => r.connections ?? 1))].sort((a, b) => a - b);
  const colour = (c: number): string => PALETTE[connections.indexOf(c) % PALETTE.length]!;
  const groups = [...new Set(phases.map((r) => r.name))].map((name) => phases.filter((r) => r.name === name));
  const largest = Math.max(10, ...phases.flatMap((r) => [r.perSecond, r.ceiling?.perSecond ?? 0]));
  const decades = Math.ceil(Math.log10(largest));
  const x = (value: number): number => PLOT_LEFT + (Math.log10(Math.max(1, value)) / decades) * (PLOT_RIGHT - PLOT_LEFT);
  const plotHeight = groups.reduce((h, g) => h + g.length * (BAR + BAR_GAP) + GROUP_GAP, 0);
  const height = TOP + plotHeight + 40;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="12" y="40" fill="#555">ops/s per phase (filled, log scale) inside its ceiling at the same concurrency (outline): writes vs PostgreSQL commits, register/open/rotate vs scrypt, reads vs bare HTTP</text>`,
  );
  // legend
  let lx = 12;
  for (const c of connections) {
    out.push(`<rect x="${lx}" y="50" width="12" height="10" fill="${colour(c)}"/><text x="${lx + 16}" y="59">${c} conn${c === 1 ? '' : 's'}</text>`);
    lx += 80;
  }
  out.push(`<rect x="${lx}" y="50" width="24" height="10" fill="none" stroke="#333" stroke-dasharray="3,2"/><text x="${lx + 30}" y="59">ceiling</text>`);
  // decade grid
  for (let d = 0; d <= decades; d++) {
    const gx = x(10 ** d);
    out.push(
      `<line x1="${gx.toFixed(1)}" y1="${TOP - 4}" x2="${gx.toFixed(1)}" y2="${TOP + plotHeight}" stroke="#e3e3e3"/>`,
      `<text x="${gx.toFixed(1)}" y="${TOP + plotHeight + 16}" text-anchor="middle" fill="#555">${(10 ** d).toLocaleString('en-US')}</text>`,
    );
  }
  out.push(`<text x="${((PLOT_LEFT + PLOT_RIGHT) / 2).toFixed(0)}" y="${TOP + plotHeight + 32}" text-anchor="middle" fill="#555">operations per second</text>`);
  let y = TOP;
  for (const group of groups) {
    const first = group[0]!;
    const groupHeight = group.length * (BAR + BAR_GAP);
    out.push(
      `<text x="${LABEL_WIDTH}" y="${(y + groupHeight / 2).toFixed(1)}" text-anchor="end"><tspan font-weight="bold">${escape(first.name)}</tspan> <tspan fill="#555">${escape(first.route)}</tspan></text>`,
    );
    for (const row of group) {
      const c = row.connections ?? 1;
      if (row.ceiling) {
        out.push(
          `<rect x="${PLOT_LEFT}" y="${y}" width="${(x(row.ceiling.perSecond) - PLOT_LEFT).toFixed(1)}" height="${BAR}" fill="none" stroke="#333" stroke-dasharray="3,2"><title>${escape(`${row.ceiling.label}: ${formatRate(row.ceiling.perSecond)}/s`)}</title></rect>`,
        );
      }
      const width = Math.max(1, x(row.perSecond) - PLOT_LEFT);
      out.push(
        `<rect x="${PLOT_LEFT}" y="${y + 2}" width="${width.toFixed(1)}" height="${BAR - 4}" fill="${colour(c)}"><title>${escape(`${row.name} at ${c}: ${formatRate(row.perSecond)} ops/s`)}</title></rect>`,
        `<text x="${(Math.max(x(row.perSecond), row.ceiling ? x(row.ceiling.perSecond) : 0) + 4).toFixed(1)}" y="${y + BAR - 2}" fill="#333">${formatRate(row.perSecond)}${row.ceiling ? ` <tspan fill="#888">/ ${formatRate(row.ceiling.perSecond)}</tspan>` : ''}</text>`,
      );
      y += BAR + BAR_GAP;
    }
    y += GROUP_GAP;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
