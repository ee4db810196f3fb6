#!/usr/bin/env node
// What PostgreSQL spends per KeyPackage upload by the size of the group commit: the statements of
// GroupCommit and the upload handler (apps/certstore/src/application), sent as PgSession sends them
// (simple protocol, several statements per message, prepared statements run with EXECUTE), on one
// connection, N commands per transaction. Prints the backend's CPU (/proc) per command: the
// question behind "group commit across partitions" (docs/benchmarks.md#where-the-time-goes).
// Several may run at once with INSTANCE=0, 1, … (actors of their own), as the certstore runs
// P2_COMMAND_CONCURRENCY units at once. Needs a migrated scratch database (it adds one server cert, 64 actors and their certs):
//
//   createdb -h 127.0.0.1 -U postgres p2_experiment
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/p2_experiment node -r ./scripts/register-paths.cjs dist/apps/certstore/src/migrate.js
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/p2_experiment node bench/experiments/group-commit-size.mjs 1 5 30 60
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const TOTAL = 3000;
const ACTORS = 64;
const INSTANCE = Number(process.env.INSTANCE ?? 0);
const SERIAL = 1000 + INSTANCE * ACTORS;
const literal = (value) => `'${String(value).replace(/'/g, "''")}'`;
const backendTicks = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
};

const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
try {
  const { rows: [{ pid }] } = await client.query('SELECT pg_backend_pid() AS pid');
  await client.query(`INSERT INTO server_certs VALUES (1, 'pem', 'key', now() - interval '1 day', now() + interval '1 year', now() - interval '1 day', NULL) ON CONFLICT DO NOTHING`);
  const version = new Map();
  for (let a = 0; a < ACTORS; a++) {
    await client.query('INSERT INTO actors VALUES ($1, $2, now(), NULL) ON CONFLICT DO NOTHING', [`i${INSTANCE}a${a}@x.example`, `i${INSTANCE}a${a}`]);
    await client.query(`INSERT INTO id_certs VALUES ($1, $2, 's1', 'pem', 'key', now() - interval '1 day', now() + interval '1 year', now(), NULL, 1) ON CONFLICT DO NOTHING`, [SERIAL + a, `i${INSTANCE}a${a}@x.example`]);
    const { rows: [{ v }] } = await client.query('SELECT coalesce(max(stream_position), 0)::int AS v FROM events WHERE stream_id = $1', [`keypackages-i${INSTANCE}a${a}`]);
    version.set(a, v);
  }
  // the texts of uploadFacts, EventStore.append, the key-packages projection and ProcessedCommands
  await client.query(`PREPARE facts(text, numeric, text, text, timestamptz, text[], int) AS SELECT v.version,
      EXISTS (SELECT 1 FROM id_certs c WHERE c.serial = $2 AND c.federation_id = $1 AND c.session_id = $4 AND c.invalidated_at IS NULL AND c.not_before <= $5 AND c.not_after > $5) AS session_active,
      ARRAY(SELECT init_key FROM key_packages WHERE init_key = ANY($6::text[])) AS already_stored,
      CASE WHEN v.version = $7::int THEN NULL ELSE (SELECT json_agg(init_key) FROM key_packages WHERE federation_id = $1 AND cert_serial = ANY(ARRAY[$2::numeric]) AND claimed_at IS NULL AND retired_at IS NULL) END AS stock
      FROM (SELECT (SELECT coalesce(max(stream_position), 0) FROM events WHERE stream_id = $3)::int AS version) v;
    PREPARE append_event(text, int, text, int, jsonb, jsonb) AS INSERT INTO events (stream_id, stream_position, type, schema_version, data, metadata) VALUES ($1, $2, $3, $4, $5, $6);
    PREPARE add_package(text, text, text, numeric, boolean, text, text, text, jsonb, int, int, timestamptz) AS INSERT INTO key_packages (init_key, federation_id, session_id, cert_serial, last_resort, protocol_version, cipher_suite, leaf_node, extensions, added_position, added_index, added_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);
    PREPARE processed(text, text[]) AS SELECT command_id, outcome FROM processed_commands WHERE consumer = $1 AND command_id = ANY($2::text[])`);
  let next = 0;
  for (const size of sizes.length > 0 ? sizes : [1, 5, 30, 60]) {
    const before = backendTicks(pid);
    const started = Date.now();
    for (let done = 0; done < TOTAL; done += size) {
      const ids = Array.from({ length: size }, () => randomUUID());
      await client.query(`BEGIN; EXECUTE processed('certstore', ARRAY[${ids.map(literal).join(', ')}]::text[])`);
      // a command's writes travel with the next command's SAVEPOINT and first read (PgSession.defer)
      let deferred = '';
      const outcomes = [];
      for (const [i, commandId] of ids.entries()) {
        const actor = next++ % ACTORS;
        const federationId = `i${INSTANCE}a${actor}@x.example`;
        const stream = `keypackages-i${INSTANCE}a${actor}`;
        const position = version.get(actor) + 1;
        const initKey = Buffer.from(randomUUID()).toString('base64');
        await client.query(`${deferred}SAVEPOINT c${i}; EXECUTE facts(${literal(federationId)}, ${SERIAL + actor}, ${literal(stream)}, 's1', now(), ARRAY[${literal(initKey)}]::text[], ${position - 1})`);
        const data = { federationId, sessionId: 's1', serial: String(SERIAL + actor), keyPackages: [{ protocolVersion: 'mls10', cipherSuite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519', initKey, leafNode: 'AAEAAgADAAQ'.repeat(8), extensions: null }] };
        const metadata = { messageId: commandId, correlationId: randomUUID(), occurredAt: new Date().toISOString() };
        deferred = `EXECUTE append_event(${literal(stream)}, ${position}, 'KeyPackagesAdded', 1, ${literal(JSON.stringify(data))}, ${literal(JSON.stringify(metadata))}); `;
        deferred += `EXECUTE add_package(${literal(initKey)}, ${literal(federationId)}, 's1', ${SERIAL + actor}, false, 'mls10', 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519', 'AAEAAgADAAQ', 'null', ${position}, 0, now()); `;
        version.set(actor, position);
        outcomes.push(`('certstore', ${literal(commandId)}, 'AddKeyPackages', ${literal(JSON.stringify({ commandId, ok: true, result: { stored: 1 } }))}, now())`);
      }
      await client.query(`${deferred}INSERT INTO processed_commands (consumer, command_id, command_type, outcome, processed_at) VALUES ${outcomes.join(', ')}; COMMIT`);
    }
    const cpuMs = (backendTicks(pid) - before) * 10;
    process.stdout.write(`${size} command(s) per transaction: backend ${(cpuMs / TOTAL).toFixed(3)} ms of CPU per command, ${((Date.now() - started) / TOTAL).toFixed(3)} ms of wall time\n`);
  }
} finally {
  await client.end();
}
