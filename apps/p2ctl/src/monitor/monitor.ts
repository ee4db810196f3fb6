import { topicNames } from '@p2/contracts';
import { OffsetsProbe, TopicTail, type TailRecord } from '@p2/messaging';
import { TELEMETRY_SCHEMA_VERSION, type AuditEntry, type TelemetrySnapshot } from '@p2/observability';
import type { CliIo } from '../io';
import { operatorKafka } from '../kafka-client';
import { operatorEnv, UsageError } from '../operator-env';
import { renderMonitor } from './monitor-view';

/** Snapshots read back per partition at start: enough to find every instance of the last minutes. */
const TELEMETRY_LOOKBACK = 2000;
/** How long `--once` waits to read what is on the topics before it prints what it has. */
const ONCE_DEADLINE_MS = 20_000;

interface MonitorOptions {
  readonly once: boolean;
  readonly refreshMs: number;
  readonly auditEntries: number;
}

function parseOptions(args: readonly string[]): MonitorOptions {
  let once = false;
  let refreshMs = 1000;
  let auditEntries = 10;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--once') once = true;
    else if (arg === '--refresh' || arg === '--audit') {
      const value = Number(args[++i]);
      if (!Number.isInteger(value) || value < (arg === '--refresh' ? 100 : 0)) throw new UsageError(`${arg} needs a whole number (${arg === '--refresh' ? 'ms, at least 100' : 'entries'})`);
      if (arg === '--refresh') refreshMs = value;
      else auditEntries = value;
    } else throw new UsageError('usage: npm run monitor -- [--once] [--refresh <ms>] [--audit <entries>]');
  }
  return { once, refreshMs, auditEntries };
}

function json(record: TailRecord): unknown {
  try {
    return record.value ? JSON.parse(record.value.toString()) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `npm run monitor`: the cluster as the telemetry and audit topics (and the DLQ's offsets) show it
 * — no access to the processes or the database. Live, it redraws in place every `--refresh` ms
 * until Ctrl-C; with `--once` it reads what is on the topics, prints one screen and exits.
 */
export async function runMonitor(args: readonly string[], io: CliIo, signal?: AbortSignal): Promise<number> {
  const options = parseOptions(args);
  const env = operatorEnv({ DATABASE_URL: 'postgres://unused', ...io.env });
  const topics = topicNames(env.topicPrefix);
  const kafka = operatorKafka(env, io, 'p2-monitor');
  const instances = new Map<string, TelemetrySnapshot>();
  let audit: AuditEntry[] = [];
  const telemetry = new TopicTail({
    kafka,
    topic: topics.telemetry,
    lookback: TELEMETRY_LOOKBACK,
    groupPrefix: 'p2-monitor',
    onRecord: (record) => {
      const snapshot = json(record) as TelemetrySnapshot | undefined;
      if (snapshot?.schemaVersion !== TELEMETRY_SCHEMA_VERSION || typeof snapshot.instance !== 'string') return;
      const known = instances.get(snapshot.instance);
      if (!known || Date.parse(known.at) <= Date.parse(snapshot.at)) instances.set(snapshot.instance, snapshot);
    },
  });
  const auditTail = new TopicTail({
    kafka,
    topic: topics.audit,
    lookback: Math.max(1, options.auditEntries),
    groupPrefix: 'p2-monitor',
    onRecord: (record) => {
      const entry = json(record) as AuditEntry | undefined;
      if (!entry || typeof entry.kind !== 'string') return;
      audit = [...audit, entry].sort((a, b) => b.at.localeCompare(a.at)).slice(0, options.auditEntries);
    },
  });
  const offsets = new OffsetsProbe(kafka);
  const deadLetters = () => offsets.recordCount(topics.deadLetters).catch(() => null);
  try {
    await Promise.all([telemetry.start(), auditTail.start()]);
    if (options.once) {
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, ONCE_DEADLINE_MS).unref());
      await Promise.race([Promise.all([telemetry.caughtUp, auditTail.caughtUp]), deadline]);
      io.out(renderMonitor({ telemetryTopic: topics.telemetry, instances, audit, deadLetters: await deadLetters() }, new Date()));
      return 0;
    }
    let first = true;
    while (!signal?.aborted) {
      const screen = renderMonitor({ telemetryTopic: topics.telemetry, instances, audit, deadLetters: await deadLetters() }, new Date());
      // (clear once,) home, draw over the previous screen, clear what it left to the right and below
      io.out(`${first ? '\x1b[2J' : ''}\x1b[H${screen.split('\n').join('\x1b[K\n')}\x1b[K\x1b[J`);
      first = false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.refreshMs);
        signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
    return 0;
  } finally {
    await Promise.all([telemetry.stop(), auditTail.stop(), offsets.close()]);
  }
}
