import { BenchOptionsError, PHASE_NAMES, parseBenchOptions, reportStem, topologyName } from '../src/bench-options';

describe('npm run bench options', () => {
  it('defaults: every phase at 1, 16 and 64 connections, 5 s per cell, into docs/', () => {
    expect(parseBenchOptions([])).toEqual({ connections: [1, 16, 64], durationSeconds: 5, phases: [...PHASE_NAMES], smoke: false, outputDir: 'docs', cpu: false, ceilings: true, topology: { gateways: 1, certstores: 1 }, warmupSeconds: 15 });
  });

  it('--warmup: seconds of unmeasured writes before the first cell, 0 for none; half a second in a smoke run', () => {
    expect(parseBenchOptions(['--warmup', '30']).warmupSeconds).toBe(30);
    expect(parseBenchOptions(['--warmup=0']).warmupSeconds).toBe(0);
    expect(parseBenchOptions(['--smoke']).warmupSeconds).toBe(0.5);
  });

  it('--cpu and --no-ceilings', () => {
    expect(parseBenchOptions(['--cpu', '--no-ceilings'])).toEqual(expect.objectContaining({ cpu: true, ceilings: false }));
  });

  it('--timeline: a directory for the answers of each cell; none by default', () => {
    expect(parseBenchOptions(['--timeline', '/tmp/t']).timelineDir).toBe('/tmp/t');
    expect(parseBenchOptions(['--timeline=out']).timelineDir).toBe('out');
    expect(parseBenchOptions([])).not.toHaveProperty('timelineDir');
    expect(() => parseBenchOptions(['--timeline'])).toThrow(/--timeline needs a value/);
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
      topology: { gateways: 1, certstores: 1 },
      warmupSeconds: 15,
    });
  });

  it('--topology: gateways x certstores, and where its report goes', () => {
    const { topology } = parseBenchOptions(['--topology', '2x3']);
    expect(topology).toEqual({ gateways: 2, certstores: 3 });
    expect(topologyName(topology)).toBe('2x3');
    expect(reportStem(topology)).toBe('benchmarks-2x3');
    expect(reportStem(parseBenchOptions(['--topology=1x1']).topology)).toBe('benchmarks');
  });

  it.each([
    [['--phases', 'register,nope'], /unknown phase "nope"/],
    [['--connections', '1,x'], /"x" is not a whole number/],
    [['--connections', '0'], /"0" is not a whole number/],
    [['--duration', '0.1'], /"0.1" is not a number of seconds/],
    [['--duration'], /--duration needs a value/],
    [['--fast'], /unknown option "--fast"/],
    [['--topology', '2'], /"2" is not <gateways>x<certstores>/],
    [['--topology', '5x1'], /"5x1" is not <gateways>x<certstores>/],
    [['--topology', '0x2'], /"0x2" is not/],
    [['--warmup', '-1'], /--warmup: "-1" is not a number of seconds/],
    [['--warmup', 'soon'], /--warmup: "soon" is not a number of seconds/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseBenchOptions(argv)).toThrow(BenchOptionsError);
    expect(() => parseBenchOptions(argv)).toThrow(message);
  });
});
