import { parseFederationId } from '@p2/polyproto';
import { table } from '../io';
import { UsageError } from '../operator-env';
import type { OperatorSession } from '../operator-session';

/** `p2ctl actor show <fid>`: the actor's streams and what the read models hold about it. Secrets
 * (password hash, token hashes, key material, KeyPackage bytes) are never read, only counted. */
export async function actorCommand(session: OperatorSession, [action, fidText]: readonly string[]): Promise<number> {
  if (action !== 'show' || !fidText) throw new UsageError('usage: p2ctl actor show <federation id>');
  let fid: string;
  try {
    fid = parseFederationId(fidText.toLowerCase()).toString();
  } catch (error) {
    throw new UsageError(`"${fidText}" is not a federation ID: ${(error as Error).message}`);
  }
  const db = await session.db();
  const { io } = session;
  const actor = (await db.query(`SELECT federation_id, local_name, registered_at FROM actors WHERE federation_id = $1`, [fid])).rows[0];
  const credentials = (await db.query(`SELECT updated_at FROM actor_credentials WHERE federation_id = $1`, [fid])).rows[0];
  const streams = (
    await db.query(
      `SELECT stream_id, count(*)::int AS events, max(stream_position) AS version, max(recorded_at) AS last_at,
              (array_agg(type ORDER BY stream_position DESC))[1] AS last_type
         FROM events WHERE stream_id IN ($1, $2, $3) OR stream_id LIKE $4 ESCAPE '\\'
        GROUP BY stream_id ORDER BY stream_id`,
      [`actor-${fid}`, `keymaterial-${fid}`, `keypackages-${fid}`, `inbox-${fid.replace(/[\\%_]/g, '\\$&')}#%`],
    )
  ).rows;
  if (!actor && streams.length === 0) {
    io.out(`no actor ${fid} on this server`);
    return 1;
  }
  io.out(`actor ${fid}`);
  io.out(actor ? `  registered ${iso(actor.registered_at)} as "${actor.local_name}"; password ${credentials ? `set (changed ${iso(credentials.updated_at)})` : 'missing'}` : '  not in the actors read model (rebuild the projections?)');
  io.out('\nstreams');
  io.out(indent(table(['stream', 'events', 'version', 'last event', 'at'], streams.map((s) => [s.stream_id, s.events, s.version, s.last_type, iso(s.last_at)]))));
  const certs = (
    await db.query(`SELECT serial::text, session_id, not_before, not_after, issued_at, invalidated_at, root_serial::text FROM id_certs WHERE federation_id = $1 ORDER BY issued_at`, [fid])
  ).rows;
  io.out('\nID-Certs (id_certs)');
  io.out(indent(table(['serial', 'session', 'issued', 'not after', 'invalidated', 'root'], certs.map((c) => [c.serial, c.session_id, iso(c.issued_at), iso(c.not_after), iso(c.invalidated_at), c.root_serial]))));
  const tokens = (await db.query(`SELECT session_id, cert_serial::text, created_at FROM session_tokens WHERE federation_id = $1 ORDER BY created_at`, [fid])).rows;
  io.out('\nsession tokens (session_tokens; the hashes are not shown)');
  io.out(indent(table(['session', 'cert serial', 'since'], tokens.map((t) => [t.session_id, t.cert_serial, iso(t.created_at)]))));
  const material = (await db.query(`SELECT serial::text, octet_length(key_data) AS bytes, encryption_algorithms, stored_at FROM key_material WHERE federation_id = $1 ORDER BY key_material.serial`, [fid])).rows;
  io.out('\nkey material (key_material; the encrypted keys are not shown)');
  io.out(indent(table(['serial', 'bytes', 'algorithms', 'stored'], material.map((m) => [m.serial, m.bytes, (m.encryption_algorithms as string[]).join(' ') || '-', iso(m.stored_at)]))));
  const packages = (
    await db.query(
      `SELECT session_id, count(*) FILTER (WHERE NOT last_resort AND claimed_at IS NULL)::int AS unused,
              count(*) FILTER (WHERE NOT last_resort AND claimed_at IS NOT NULL)::int AS claimed,
              count(*) FILTER (WHERE last_resort AND retired_at IS NULL)::int AS last_resort
         FROM key_packages WHERE federation_id = $1 GROUP BY session_id ORDER BY session_id`,
      [fid],
    )
  ).rows;
  io.out('\nKeyPackages (key_packages)');
  io.out(indent(table(['session', 'unused', 'claimed', 'last resort'], packages.map((p) => [p.session_id, p.unused, p.claimed, p.last_resort]))));
  const inbox = (await db.query(`SELECT session_id, count(*)::int AS items, max(seq)::text AS last_seq FROM session_inbox WHERE federation_id = $1 GROUP BY session_id ORDER BY session_id`, [fid])).rows;
  io.out('\ninbox (session_inbox)');
  io.out(indent(table(['session', 'unacknowledged', 'last seq'], inbox.map((i) => [i.session_id, i.items, i.last_seq]))));
  return 0;
}

function iso(value: Date | string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
