/** A PEM request field's text with one layer of JSON string quoting taken off
 * (docs/protocol.md#pem-fields: a field may hold raw PEM, base64 DER, or either as a JSON string
 * literal). Text that is not quoted is returned as it is; `undefined` when the quoted text is no JSON
 * string, which each caller refuses in the words of its own field. */
export function unquotedPemField(text: string): string | undefined {
  if (!text.startsWith('"')) return text;
  try {
    const inner: unknown = JSON.parse(text);
    return typeof inner === 'string' ? inner : undefined;
  } catch {
    return undefined;
  }
}
