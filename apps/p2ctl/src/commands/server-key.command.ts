import { randomUUID } from 'node:crypto';
import { commandKey, newCommand } from '@p2/contracts';
import { UsageError } from '../operator-env';
import type { OperatorSession } from '../operator-session';

/** `p2ctl server-key rotate [--compromised]`: the RotateServerKey command an administrator's
 * PUT /key/server sends, requested by `operator:<user>`. */
export async function serverKeyCommand(session: OperatorSession, [action, ...flags]: readonly string[]): Promise<number> {
  const unknown = flags.filter((f) => f !== '--compromised');
  if (action !== 'rotate' || unknown.length > 0) throw new UsageError('usage: p2ctl server-key rotate [--compromised]');
  const compromised = flags.includes('--compromised');
  const command = newCommand('RotateServerKey', { requestedBy: session.env.operator, compromised }, randomUUID());
  const reply = await (await session.bus()).send(command, commandKey(command));
  await session.audit({ reason: compromised ? 'server-key-rotate-compromised' : 'server-key-rotate', details: { compromised, outcome: reply.ok ? 'rotated' : reply.error.code } });
  if (!reply.ok) {
    session.io.err(`the server key was not rotated: ${reply.error.code} (${reply.error.message})`);
    return 1;
  }
  const serial = reply.result.type === 'ServerKeyRotated' ? reply.result.serial : '?';
  session.io.out(`rotated the server key${compromised ? ' (compromised: every actor cert of the old key is invalidated)' : ''}; new root serial ${serial}`);
  return 0;
}
