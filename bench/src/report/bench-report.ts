/** The result of a bench run as ONE table: ceilings first, then every phase at every connection count. */

export interface ReportRow {
  readonly kind: 'ceiling' | 'phase';
  readonly name: string;
  readonly route: string;
  /** concurrent connections (or clients, or checks in flight); undefined: one core, no concurrency */
  readonly connections?: number;
  readonly perSecond: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  /** non-2xx answers by status, and requests without an answer by kind */
  readonly errors: Readonly<Record<string, number>>;
  /** what the phase is compared with, measured at the same concurrency in the same run */
  readonly ceiling?: { readonly label: string; readonly perSecond: number };
  readonly notes: readonly string[];
}

export interface ReportMeta {
  readonly date: string;
  readonly commit: string;
  readonly command: string;
  readonly machine: string;
  readonly os: string;
  readonly node: string;
  readonly postgres: string;
  readonly kafka: string;
  readonly target: string;
  readonly loadGenerator: string;
  readonly cell: string;
  readonly warmup: string;
  /** the gateway's password check, whose cost bounds register, open and rotation */
  readonly passwordHashing: string;
}

export function formatRate(perSecond: number): string {
  if (perSecond >= 100) return Math.round(perSecond).toLocaleString('en-US');
  return perSecond.toFixed(1);
}

export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '—';
  if (ms >= 100) return Math.round(ms).toLocaleString('en-US');
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

export function formatErrors(errors: Readonly<Record<string, number>>): string {
  const entries = Object.entries(errors).filter(([, n]) => n > 0);
  if (entries.length === 0) return '0';
  return entries.map(([kind, n]) => `${n.toLocaleString('en-US')}× ${kind}`).join(', ');
}

export function errorCount(row: ReportRow): number {
  return Object.values(row.errors).reduce((sum, n) => sum + n, 0);
}

/** The table, as GitHub markdown. */
export function markdownTable(rows: readonly ReportRow[]): string {
  const header = ['phase', 'route', 'conns', 'ops/s', 'p50 ms', 'p99 ms', 'errors', 'ceiling (same conns)', 'ceiling ops/s', 'ratio', 'notes'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((h, i) => (i >= 3 && i <= 5) || i === 8 || i === 9 ? '---:' : '---').join('|')}|`];
  for (const row of rows) {
    const cells = [
      row.kind === 'ceiling' ? `**ceiling: ${row.name}**` : row.name,
      `\`${row.route}\``,
      row.connections === undefined ? '1 core' : String(row.connections),
      formatRate(row.perSecond),
      formatMs(row.p50Ms),
      formatMs(row.p99Ms),
      formatErrors(row.errors),
      row.ceiling?.label ?? '',
      row.ceiling ? formatRate(row.ceiling.perSecond) : '',
      row.ceiling && row.ceiling.perSecond > 0 ? (row.perSecond / row.ceiling.perSecond).toPrecision(2) : '',
      row.notes.join('; '),
    ];
    lines.push(`| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The whole docs/benchmarks.md. */
export function markdownReport(meta: ReportMeta, rows: readonly ReportRow[], chartFile: string): string {
  return `# Benchmarks

Written by \`npm run bench\` (see the README, "Benchmarks"); re-run it to update this page. Figures
depend on the machine and on what else runs on it.

| | |
|---|---|
| date | ${meta.date} |
| commit | ${meta.commit} |
| command | \`${meta.command}\` |
| machine | ${meta.machine} |
| OS | ${meta.os} |
| Node | ${meta.node} |
| PostgreSQL | ${meta.postgres} |
| Kafka | ${meta.kafka} |
| system under test | ${meta.target} |
| load generator | ${meta.loadGenerator} |
| cells | ${meta.cell} |
| warm-up | ${meta.warmup} |
| password check | ${meta.passwordHashing} |

${markdownTable(rows)}

- **ops/s** counts only answers with the route's success status (2xx: 201, 204 or 200; for
  \`GET /events\` only 200, since a 204 means there was nothing to fetch and nothing was written);
  **p50/p99** are the latencies of those answers. Every other answer is in **errors**, by status,
  with requests that got no answer (timeouts, connection errors).
- **Ceilings**, measured on this machine in the same run at the same concurrency: *bare HTTP* is a
  bare Node HTTP server answering a small JSON body, driven by the same load generator the way it
  drives the reads (the most it can measure here); *bare HTTP, write-shaped* is the same server
  driven the way the writes are (a POST with a KeyPackage-sized JSON body and a bearer token, each
  request built when its turn comes): the load generator's limit for the write phases;
  *PostgreSQL commits* is \`pgbench\` committing one single-row INSERT per
  transaction into a scratch table of the bench's database (\`-c conns -j 2\`); *scrypt* is the
  gateway's own password check (\`apps/gateway/src/auth/password-hasher.ts\`) with that many checks
  in flight, in a process with the gateway's libuv thread pool; *polyproto issue* is the crypto-only
  rate of \`libs/polyproto\` (CSR in, every check, signed cert out; the code of
  \`npm run bench:polyproto\`) on one core.
- **ratio** = ops/s ÷ the ceiling of the same row: writes against PostgreSQL commits, register /
  session open / rotation against scrypt (one password hash or check per request), reads against
  the bare HTTP server.
- Every write has inputs of its own, made before its cell and not timed: fresh actor names, CSRs
  with fresh keys and session IDs, fresh KeyPackage init_keys, serials without key material (when
  a cell needs serials that earlier cells used, their items are deleted first, one sensitive DELETE
  per actor, untimed), sessions
  with unfetched inbox items (made by opening another session of the same actor). A cell whose
  inputs ran out before its end says so in **notes**.
- **exactly once** (notes of every write cell): after the cell, in the bench's database, the
  answers counted as successes (*accepted*) against the commands the certstores recorded as
  accepted in that time (*applied*, from \`processed_commands\`); *lost* is an accepted answer with
  no applied command, *twice* a command whose events were appended by two transactions. Either
  one is also counted in **errors**. With \`BENCH_URL\` the check reads the database that
  \`BENCH_DATABASE_URL\` names; without it the cell says *not checked*.

![throughput per phase against its ceiling](${chartFile})
`;
}
