import type { AuditEntry, TelemetrySnapshot } from '@p2/observability';
import { table } from '../io';

/** What the monitor knows, all of it read from Kafka. */
export interface MonitorState {
  readonly telemetryTopic: string;
  /** the latest snapshot of each instance */
  readonly instances: ReadonlyMap<string, TelemetrySnapshot>;
  /** the latest audit entries, newest first */
  readonly audit: readonly AuditEntry[];
  readonly deadLetters: number | null;
}

/** An instance whose snapshot is older than this many of its intervals is shown as stale. */
const STALE_INTERVALS = 3;
/** An instance silent for longer than this is left out (it stopped long ago). */
const FORGET_AFTER_MS = 15 * 60 * 1000;

/** The health of an instance as the monitor shows it. */
export function healthOf(snapshot: TelemetrySnapshot, now: Date): 'ready' | 'not-ready' | 'stopped' | 'stale' {
  if (snapshot.status === 'stopping') return 'stopped';
  const ageMs = now.getTime() - Date.parse(snapshot.at);
  if (ageMs > STALE_INTERVALS * Math.max(1, snapshot.intervalSeconds) * 1000 + 1000) return 'stale';
  return snapshot.status;
}

const fixed = (n: number | null | undefined, digits = 1) => (n === null || n === undefined ? '-' : n.toFixed(digits));
const ms = (n: number | null) => (n === null ? '-' : `${n.toFixed(1)}ms`);
const maxOf = (values: readonly number[]) => (values.length === 0 ? null : Math.max(...values));

/** The monitor's screen as text (pure: the live view and `--once` print the same thing). */
export function renderMonitor(state: MonitorState, now: Date): string {
  const shown = [...state.instances.values()]
    .filter((s) => now.getTime() - Date.parse(s.at) < FORGET_AFTER_MS)
    .sort((a, b) => a.role.localeCompare(b.role) || a.instance.localeCompare(b.instance));
  const live = shown.filter((s) => ['ready', 'not-ready'].includes(healthOf(s, now)));
  const sum = (pick: (s: TelemetrySnapshot) => number) => live.reduce((n, s) => n + pick(s), 0);
  const lagOf = (s: TelemetrySnapshot) => (s.consumerLag ?? []).reduce((n, l) => n + l.lag, 0);
  const relayLag = maxOf(live.filter((s) => s.relay?.lagEvents !== null && s.relay?.lagEvents !== undefined).map((s) => s.relay!.lagEvents!));
  const lines = [
    `polyproto home server — ${now.toISOString()} — from ${state.telemetryTopic}`,
    `instances ${live.filter((s) => healthOf(s, now) === 'ready').length}/${shown.length} ready   http ${fixed(sum((s) => s.http.requestsPerSecond))}/s (5xx ${sum((s) => s.http.status5xx)})   commands ${fixed(sum((s) => s.commands.perSecond))}/s   consumer lag ${sum(lagOf)}   relay lag ${relayLag ?? '-'}   DLQ ${state.deadLetters ?? '?'}`,
    '',
  ];
  if (shown.length === 0) lines.push(`no telemetry on ${state.telemetryTopic} yet`);
  else {
    lines.push(
      table(
        ['instance', 'role', 'health', 'seen', 'uptime', 'req/s', 'http p99', '5xx', 'cmd/s', 'cmd p99', 'batch p99', 'lag', 'relay', 'db pool', 'version'],
        shown.map((s) => [
          s.instance,
          s.role,
          healthOf(s, now),
          `${Math.max(0, Math.round((now.getTime() - Date.parse(s.at)) / 1000))}s ago`,
          duration(s.uptimeSeconds),
          fixed(s.http.requestsPerSecond),
          s.role === 'gateway' ? ms(maxOf(s.http.routes.map((r) => r.latencyMs.p99))) : '-',
          s.role === 'gateway' ? s.http.status5xx : '-',
          fixed(s.commands.perSecond),
          s.role === 'certstore' ? ms(maxOf(s.commands.byType.map((c) => c.latencyMs.p99))) : '-',
          s.role === 'certstore' ? s.commands.batchSize.p99 : '-',
          s.consumerLag === null ? '?' : lagOf(s),
          s.relay ? `${s.relay.lagEvents ?? '?'}${s.relay.active ? '*' : ''}` : '-',
          s.database ? `${s.database.total - s.database.idle}/${s.database.max}${s.database.waiting > 0 ? ` +${s.database.waiting}` : ''}` : '-',
          s.version,
        ]),
      ),
    );
    const failing = shown.flatMap((s) => Object.entries(s.checks).filter(([, ok]) => !ok).map(([check]) => `${s.instance}: ${check}`));
    if (failing.length > 0) lines.push('', `failing checks: ${failing.join(', ')}`);
  }
  lines.push('', 'latest audit entries');
  if (state.audit.length === 0) lines.push('  none');
  else lines.push(table(['at', 'kind', 'actor', 'client', 'reason', 'route', 'instance'], state.audit.map((a) => [a.at, a.kind, a.actor, a.clientAddress, a.reason, a.route, a.instance])));
  lines.push('', 'relay: * = the instance relaying; db pool: in use/max (+waiting)');
  return lines.join('\n');
}

function duration(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  return `${Math.floor(seconds / 3600)}h`;
}
