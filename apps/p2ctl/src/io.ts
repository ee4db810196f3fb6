/** Where a command reads and writes (process streams in main.ts, buffers in tests). */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  out(line: string): void;
  err(line: string): void;
  /** all of standard input (the admin password when P2_ADMIN_PASSWORD is not set) */
  readStdin(): Promise<string>;
}

/** Formats rows as aligned columns under a header. */
export function table(header: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]!))).join('  ')).join('\n');
}

/** Field names whose values are secrets (or secret-shaped): never printed. */
const SECRET_FIELD = /password|secret|private|token|keydata|key_data/i;

/** A copy of `value` with every secret field replaced by "[redacted]" (DLQ and actor output). */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, SECRET_FIELD.test(key) ? '[redacted]' : redactSecrets(v)]));
}
