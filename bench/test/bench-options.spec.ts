import { BenchOptionsError, PHASE_NAMES, parseBenchOptions } from '../src/bench-options';

describe('npm run bench options', () => {
  it('defaults: every phase at 1, 16 and 64 connections, 5 s per cell, into docs/', () => {
    expect(parseBenchOptions([])).toEqual({ connections: [1, 16, 64], durationSeconds: 5, phases: [...PHASE_NAMES], smoke: false, outputDir: 'docs', cpu: false, ceilings: true });
  });

  it('--cpu and --no-ceilings', () => {
    expect(parseBenchOptions(['--cpu', '--no-ceilings'])).toEqual(expect.objectContaining({ cpu: true, ceilings: false }));
  });

  it('--smoke: 1 and 4 connections, 1 s', () => {
    expect(parseBenchOptions(['--smoke'])).toEqual(expect.objectContaining({ connections: [1, 4], durationSeconds: 1, smoke: true }));
  });

  it('takes values after the flag or after "=", keeps the phases in run order and sorts the connections', () => {
    expect(parseBenchOptions(['--connections=64,1', '--duration', '2.5', '--phases', 'inbox,register', '--output', '/tmp/x'])).toEqual({
      connections: [1, 64],
      durationSeconds: 2.5,
      phases: ['register', 'inbox'],
      smoke: false,
      outputDir: '/tmp/x',
      cpu: false,
      ceilings: true,
    });
  });

  it.each([
    [['--phases', 'register,nope'], /unknown phase "nope"/],
    [['--connections', '1,x'], /"x" is not a whole number/],
    [['--connections', '0'], /"0" is not a whole number/],
    [['--duration', '0.1'], /"0.1" is not a number of seconds/],
    [['--duration'], /--duration needs a value/],
    [['--fast'], /unknown option "--fast"/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseBenchOptions(argv)).toThrow(BenchOptionsError);
    expect(() => parseBenchOptions(argv)).toThrow(message);
  });
});
