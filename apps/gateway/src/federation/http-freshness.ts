/**
 * How long an answer may be reused by its HTTP caching headers (RFC 9111 §4.2.1), in seconds:
 * `no-store`/`no-cache` → 0, else `max-age`, else `Expires` − `Date`. Undefined when the headers
 * say nothing; then only the signed cache window and P2_FEDERATION_CACHE_MAX_SECONDS bound the
 * reuse (docs/protocol.md#federation-cache).
 */
export function httpFreshSeconds(cacheControl: string | undefined, expires: string | undefined, date: string | undefined): number | undefined {
  if (cacheControl) {
    const directives = cacheControl
      .toLowerCase()
      .split(',')
      .map((d) => d.trim());
    if (directives.some((d) => d === 'no-store' || d === 'no-cache' || d.startsWith('no-cache='))) return 0;
    for (const d of directives) {
      const maxAge = /^max-age\s*=\s*"?(\d{1,10})"?$/.exec(d);
      if (maxAge) return Number(maxAge[1]);
    }
  }
  if (expires !== undefined && date !== undefined) {
    const end = Date.parse(expires);
    const start = Date.parse(date);
    // RFC 9111: an invalid Expires (e.g. "0") means already expired
    if (Number.isNaN(end)) return 0;
    if (!Number.isNaN(start)) return Math.max(0, Math.floor((end - start) / 1000));
  }
  return undefined;
}
