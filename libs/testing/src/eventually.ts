/** Polls `probe` until it returns without throwing (and, if given, `until` holds), or the
 * deadline passes; then rethrows the last failure. Tests use it instead of fixed sleeps. */
export async function eventually<T>(
  probe: () => Promise<T> | T,
  options: { timeoutMs?: number; intervalMs?: number; until?: (value: T) => boolean; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 15000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (!options.until || options.until(value)) return value;
      lastError = new Error(`condition not met: ${options.what ?? 'value'} = ${JSON.stringify(value)}`);
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw lastError;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}
