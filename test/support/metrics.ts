/** Lines of a Prometheus exposition that are samples of `family` with every label of `labels` (any order). */
function matching(exposition: string, family: string, labels: Record<string, string>): string[] {
  return exposition.split('\n').filter((l) => l.startsWith(`${family}{`) && Object.entries(labels).every(([name, value]) => l.includes(`${name}="${value}"`)));
}

const valueOf = (line: string) => Number(line.slice(line.lastIndexOf(' ') + 1));

/** The value of the first sample of `family` that has every label of `labels`, or undefined. */
export function sample(exposition: string, family: string, labels: Record<string, string>): number | undefined {
  const [line] = matching(exposition, family, labels);
  return line === undefined ? undefined : valueOf(line);
}

/** The sum of every sample of `family` that has every label of `labels` (0 when none has). */
export function sampleSum(exposition: string, family: string, labels: Record<string, string>): number {
  return matching(exposition, family, labels).reduce((sum, line) => sum + valueOf(line), 0);
}
