import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadJob, LoadRequest, LoadResult } from './load-job';

export type CellSpec = Omit<LoadJob, 'requestsFile'> & { readonly requests: readonly LoadRequest[] };

/** The parent side of the load generator: one autocannon process, one cell at a time. */
export class LoadGenerator {
  private readonly dir = mkdtempSync(join(tmpdir(), 'p2-bench-'));
  private worker: ChildProcess | undefined;
  private cells = 0;

  async run(spec: CellSpec): Promise<LoadResult> {
    const { requests, ...job } = spec;
    const requestsFile = join(this.dir, `cell-${++this.cells}.json`);
    writeFileSync(requestsFile, JSON.stringify(requests));
    try {
      const worker = this.start();
      return await new Promise<LoadResult>((resolve, reject) => {
        const onExit = (code: number | null, signal: string | null) => reject(new Error(`the load generator exited (${signal ?? code})`));
        worker.once('exit', onExit);
        worker.once('message', (message: { result?: LoadResult; error?: string }) => {
          worker.off('exit', onExit);
          if (message.error !== undefined) reject(new Error(`load generator: ${message.error}`));
          else resolve(message.result!);
        });
        worker.send({ ...job, requestsFile } satisfies LoadJob);
      });
    } finally {
      rmSync(requestsFile, { force: true });
    }
  }

  close(): void {
    this.worker?.kill();
    this.worker = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }

  private start(): ChildProcess {
    if (this.worker && this.worker.exitCode === null) return this.worker;
    this.worker = fork(join(__dirname, 'load-generator.worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return this.worker;
  }
}
