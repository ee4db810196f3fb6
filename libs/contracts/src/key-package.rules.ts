/** Limits of the KeyPackage routes (docs/protocol.md#key-package-binding). Each one is a 400/413 answer, never a 500. They are
 * part of the command contract too: the certstore refuses a command that breaks them. */
export const KEY_PACKAGE_LIMITS = {
  /** KeyPackages in one POST /keypackage/@me (413 above). */
  perRequest: 100,
  /** Regular KeyPackages one session's cert may hold unclaimed (413 above): bounds the stock the
   * certstore loads to decide, and what one session can make the server store. */
  stockPerSession: 500,
  /** protocol_version and cipher_suite: printable ASCII labels. */
  labelMaxChars: 64,
  /** base64 characters of init_key: keeps the UNIQUE index entry well below PostgreSQL's B-tree
   * limit (~2.7 kB) while fitting every HPKE key in use, post-quantum hybrids included. */
  initKeyMaxChars: 2048,
  /** base64 characters of leaf_node. */
  leafNodeMaxChars: 16384,
  /** JSON text of extensions, and its nesting depth (jsonb storage refuses very deep values). */
  extensionsMaxChars: 16384,
  extensionsMaxDepth: 32,
  /** Most bytes of KeyPackages one claim (GET /keypackage/:fid) hands out: its answer travels as one
   * record on the replies topic, and one package may be ~35 kB, so an actor with a few dozen
   * sessions would make a reply over what the broker takes (1 MiB by default). Half of the 512 KiB
   * produce request (MAX_REQUEST_BYTES) leaves room for the envelope and for other replies. */
  claimBytes: 256 * 1024,
} as const;

/** A KeyPackage label (protocol_version, cipher_suite): 1 to 64 printable ASCII characters. */
export function isKeyPackageLabel(value: unknown): value is string {
  return typeof value === 'string' && /^[\x20-\x7e]+$/.test(value) && value.length <= KEY_PACKAGE_LIMITS.labelMaxChars;
}

/** Standard or URL-safe base64, padding optional (but only to a multiple of 4); undefined when
 * the text is not base64 or encodes nothing. */
export function decodeBase64(text: string): Buffer | undefined {
  if (!BASE64_TEXT.test(text)) return undefined;
  // Runs on every leaf_node (up to 16 KiB) in the gateway and again in the certstore, so no
  // regex replaces that copy the text: Node's base64 decoder reads both alphabets itself.
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === EQUALS) end--;
  if (end % 4 === 1) return undefined;
  if (end !== text.length && text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.length > 0 ? bytes : undefined;
}

const BASE64_TEXT = /^[A-Za-z0-9+/_-]+={0,2}$/;
const EQUALS = 0x3d;

/** Standard padded base64 exactly as Node writes it, so that one byte string has one spelling
 * (init_key is unique by its text). */
export function isCanonicalBase64(value: unknown, maxChars: number): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxChars) return false;
  const bytes = decodeBase64(value);
  return bytes !== undefined && bytes.toString('base64') === value;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why PostgreSQL's jsonb would not store `value` as given (a NUL or a lone surrogate in a string
 * or key, a non-finite number, too deep or too large), or undefined when it would. */
export function storableJsonProblem(
  value: unknown,
  limits: { maxChars: number; maxDepth: number } = { maxChars: KEY_PACKAGE_LIMITS.extensionsMaxChars, maxDepth: KEY_PACKAGE_LIMITS.extensionsMaxDepth },
): string | undefined {
  const text = JSON.stringify(value);
  if (text !== undefined && text.length > limits.maxChars) return `is larger than ${limits.maxChars} characters of JSON`;
  // `depth` counts the arrays and objects around `node`, and an array or object is a level itself,
  // empty or not: as the body reader counts (MAX_BODY_DEPTH), 32 nested `[` are 32 levels.
  const tooDeep = `is nested deeper than ${limits.maxDepth} levels`;
  const walk = (node: unknown, depth: number): string | undefined => {
    if (typeof node === 'string') return isStorableText(node) ? undefined : 'contains a NUL character or an unpaired surrogate';
    if (typeof node === 'number') return Number.isFinite(node) ? undefined : 'contains a number JSON cannot carry';
    if (node === null || typeof node === 'boolean') return undefined;
    if (typeof node === 'object' && depth + 1 > limits.maxDepth) return tooDeep;
    if (Array.isArray(node)) {
      for (const item of node) {
        const problem = walk(item, depth + 1);
        if (problem) return problem;
      }
      return undefined;
    }
    if (typeof node === 'object') {
      for (const [key, item] of Object.entries(node)) {
        const problem = walk(key, depth + 1) ?? walk(item, depth + 1);
        if (problem) return problem;
      }
      return undefined;
    }
    return 'is not JSON';
  };
  return walk(value, 0);
}

/** Text PostgreSQL stores as given: no NUL (text and jsonb refuse it) and no unpaired surrogate. */
export function isStorableText(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}
