import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { glibcTunablesOf } from '../src/ceilings/ceilings';

describe('glibcTunablesOf', () => {
  it('reads the value as glibc leaves it in a running process (split in place at each colon)', () => {
    const environ = ['PATH=/usr/bin', 'GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864', 'glibc.malloc.mmap_threshold=33554432', 'glibc.malloc.top_pad=4194304', 'LANG=C', ''].join('\0');
    expect(glibcTunablesOf(environ)).toBe('glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=33554432:glibc.malloc.top_pad=4194304');
  });

  it('reads an unsplit value, and says when there is none', () => {
    expect(glibcTunablesOf('A=1\0GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.top_pad=1\0B=2\0')).toBe('glibc.malloc.hugetlb=1:glibc.malloc.top_pad=1');
    expect(glibcTunablesOf('A=1\0B=2\0')).toBeUndefined();
  });

  it("gives back what a real process was started with, from its /proc environ", async () => {
    const value = 'glibc.malloc.trim_threshold=67108864:glibc.malloc.top_pad=4194304';
    const child = spawn('sleep', ['30'], { env: { PATH: process.env.PATH, GLIBC_TUNABLES: value }, stdio: 'ignore' });
    try {
      await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
      // the dynamic loader has parsed the tunables once the program's own code runs; poll until then
      const deadline = Date.now() + 5000;
      let seen: string | undefined;
      while (Date.now() < deadline) {
        seen = glibcTunablesOf(readFileSync(`/proc/${child.pid}/environ`, 'latin1'));
        if (readFileSync(`/proc/${child.pid}/cmdline`, 'latin1').startsWith('sleep') && seen !== undefined) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(seen).toBe(value);
    } finally {
      child.kill();
    }
  });
});
