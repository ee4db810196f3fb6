/**
 * Sets `key` as the newest entry of `map` and drops the oldest one past `maxEntries`: bounded
 * in-memory records whose count an outsider decides (wrong passwords under any actor name, failing
 * foreign certs, streams). The key is deleted first because a Map iterates in insertion order, and a
 * set on a present key keeps its old place: that order is the eviction order.
 */
export function setNewest<K, V>(map: Map<K, V>, key: K, value: V, maxEntries: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > maxEntries) map.delete(map.keys().next().value!);
}
