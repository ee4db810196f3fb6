import type { LoggerService } from '@nestjs/common';
import type { Message } from '@p2/contracts';
import { commandTransportHooks, currentCorrelation, ProcessMetrics } from '@p2/observability';

describe('commandTransportHooks: per-command debug lines', () => {
  const command = { type: 'AcknowledgeInbox', metadata: { messageId: 'cmd-1', correlationId: 'req-7' } } as unknown as Message;
  const logger = () => {
    const lines: { text: string; correlationId: string | undefined }[] = [];
    const service: LoggerService = {
      log: () => undefined,
      error: () => undefined,
      warn: () => undefined,
      debug: (text: string) => lines.push({ text, correlationId: currentCorrelation()?.correlationId }),
    };
    return { service, lines };
  };

  it('writes the outcome line in the command correlation context when debug lines are on', () => {
    const { service, lines } = logger();
    commandTransportHooks(new ProcessMetrics('certstore', 'c1', 'test'), service, { debugLines: true }).commandDone!(command, 'accepted', 0.0042);
    expect(lines).toEqual([{ text: 'command cmd-1 (AcknowledgeInbox) accepted, replied after 4.2 ms', correlationId: 'req-7' }]);
  });

  it('builds no line at all when they are off, and still counts the command', async () => {
    const { service, lines } = logger();
    const metrics = new ProcessMetrics('certstore', 'c1', 'test');
    const hooks = commandTransportHooks(metrics, service, { debugLines: false });
    hooks.commandDone!(command, 'accepted', 0.0042);
    await expect(hooks.around!(command, '', () => Promise.reject(Object.assign(new Error('no'), { code: 'P2CORE_X' })))).rejects.toThrow('no');
    expect(lines).toEqual([]);
    expect(await metrics.registry.getSingleMetricAsString('p2_commands_total')).toMatch(/p2_commands_total\{type="AcknowledgeInbox",outcome="accepted",role="certstore"\} 1/);
  });

  it('counts a record that was no envelope as a dead letter of type "unreadable"', async () => {
    const metrics = new ProcessMetrics('certstore', 'c1', 'test');
    const hooks = commandTransportHooks(metrics, logger().service, { debugLines: false });
    hooks.unreadableSetAside!();
    hooks.unreadableSetAside!();
    expect(await metrics.registry.getSingleMetricAsString('p2_commands_total')).toMatch(/^p2_commands_total\{type="unreadable",outcome="dead_lettered",role="certstore"\} 2$/m);
  });
});
