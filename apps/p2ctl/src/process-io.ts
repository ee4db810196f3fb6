import type { CliIo } from './io';

/** The process's own streams as a CliIo. */
export function processIo(): CliIo {
  return {
    env: process.env,
    out: (line) => void process.stdout.write(`${line}\n`),
    err: (line) => void process.stderr.write(`${line}\n`),
    readStdin: async () => {
      if (process.stdin.isTTY) process.stderr.write('password (then Enter, Ctrl-D): ');
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}
