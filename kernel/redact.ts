// Secrets stay out of logs and error lines. Two tools:
//
//   redactUrl(url)        the one way a URL is shown anywhere (a log field, an error message): user
//                         info and secret-looking query values become ***; on request all but the
//                         host, for webhook URLs whose path is the secret (Slack, Discord, Teams)
//   scrubSecrets(text)    the same for URLs inside free text (an error message from a library that
//                         put the URL it was given into its message), plus key=value secrets
//
// The logger (log.ts) also blanks fields named like secrets and runs scrubSecrets over every string
// it writes, as a net under the call sites; call sites still redact, so that the net is not the
// only thing between a password and the log.

/** Field names whose values never reach a log line, wherever they sit in the logged object. */
export const SECRET_FIELDS = [
  'password', 'passwd', 'passphrase', 'secret', 'clientSecret', 'token', 'accessToken', 'refreshToken',
  'adminToken', 'readToken', 'sasToken', 'apiKey', 'privateKey', 'secretKey', 'signingKey', 'seed', 'mnemonic',
  'authorization', 'Authorization', 'cookie', 'Cookie',
  // LoRaWAN session and root keys
  'nwkSKey', 'appSKey', 'appKey', 'nwkKey',
] as const;

/** HTTP headers that carry credentials. */
const SECRET_HEADERS = ['authorization', 'Authorization', 'cookie', 'Cookie', 'set-cookie', 'proxy-authorization', 'x-api-key'];

export const REDACTED = '[redacted]';

/**
 * pino `redact` paths: each secret field at the top of a line's object and up to two levels down
 * (pino's paths name levels; `*` stands for one), and credential headers under any `headers`.
 */
export function redactPaths(): string[] {
  const paths: string[] = [];
  for (const f of SECRET_FIELDS) paths.push(f, `*.${f}`, `*.*.${f}`);
  for (const h of SECRET_HEADERS) {
    const key = /^[A-Za-z]+$/.test(h) ? `.${h}` : `["${h}"]`;
    paths.push(`headers${key}`, `*.headers${key}`, `*.*.headers${key}`);
  }
  return paths;
}

/** Query parameters whose values are credentials (SAS `sig`, Azure Functions `code`, AWS `X-Amz-Signature`, ...). */
const SECRET_PARAM = /pass|pwd|secret|token|key|sig|auth|code|credential|session|jwt/i;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const MASK = '***';

export interface RedactUrlOptions {
  /** show `/***` for the path and query, for URLs whose path is itself a credential (webhooks) */
  hostOnly?: boolean;
}

/**
 * A URL fit to be logged: `postgres://fieldproof:s3cret@db/x` becomes `postgres://fieldproof:***@db/x`,
 * a user name alone (often a token) becomes ***, secret-looking query values and any fragment become
 * ***. A URL with nothing to hide comes back unchanged. Relative URLs (an HTTP request line's path)
 * are handled too; text that is no URL at all goes through scrubSecrets.
 */
export function redactUrl(url: string, opts: RedactUrlOptions = {}): string {
  const relative = !SCHEME.test(url);
  let u: URL;
  try {
    u = relative ? new URL(url, 'http://relative.invalid') : new URL(url);
  } catch {
    return scrubSecrets(url);
  }
  let changed = false;
  if (u.password) {
    u.password = MASK;
    changed = true;
  } else if (u.username) {
    u.username = MASK;
    changed = true;
  }
  if (opts.hostOnly && ((u.pathname !== '/' && u.pathname !== '') || u.search)) {
    u.pathname = '/' + MASK;
    u.search = '';
    changed = true;
  }
  if (u.search) {
    const params = new URLSearchParams(u.search);
    let masked = false;
    for (const [name, value] of params) {
      if (SECRET_PARAM.test(name) && value !== '' && value !== MASK) {
        params.set(name, MASK);
        masked = true;
      }
    }
    if (masked) {
      u.search = params.toString().replaceAll('%2A', '*');
      changed = true;
    }
  }
  if (u.hash) {
    u.hash = MASK;
    changed = true;
  }
  if (!changed) return url;
  return relative ? u.pathname + u.search + u.hash : u.href;
}

/** `scheme://user:pass@` and `scheme://token@` inside any text */
const URL_USERINFO = /\b([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^\s/?#@:]*)(:[^\s/?#@]*)?@/g;
/** `password=...` and the like: libpq key=value strings, query strings quoted in a message */
const KEY_VALUE = /\b(password|passwd|pwd|secret|token|access_token|api_?key|sig)=("[^"]*"|'[^']*'|[^\s&;,"']+)/gi;
/** an HTTP credential quoted in a message */
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;

/** Free text with credentials in URLs, key=value pairs and Authorization values replaced by ***. */
export function scrubSecrets(text: string): string {
  if (!text.includes('@') && !text.includes('=') && !text.includes('Bearer') && !text.includes('Basic')) return text;
  return text
    // as redactUrl does: the user name stays when a password follows it, a lone user name (a token) goes
    .replace(URL_USERINFO, (_m, scheme: string, user: string, password?: string) => (password ? `${scheme}${user}:${MASK}@` : `${scheme}${MASK}@`))
    .replace(KEY_VALUE, (_m, key: string) => `${key}=${MASK}`)
    .replace(AUTH_SCHEME, `$1 ${MASK}`);
}

/**
 * scrubSecrets over every string in a log line's object (a few levels deep), copying only what
 * changes: the caller's object is never modified.
 */
export function scrubObject<T>(value: T, depth = 4): T {
  if (typeof value === 'string') return scrubSecrets(value) as T;
  if (depth === 0 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    value.forEach((v, i) => {
      const s = scrubObject(v, depth - 1);
      if (s !== v) (out ??= [...value])[i] = s;
    });
    return (out ?? value) as T;
  }
  if (value instanceof Error) {
    const message = scrubSecrets(value.message);
    const stack = value.stack === undefined ? undefined : scrubSecrets(value.stack);
    if (message === value.message && stack === value.stack) return value;
    return { type: value.name, message, ...(stack ? { stack } : {}) } as T;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const s = scrubObject(v, depth - 1);
    if (s !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = s;
  }
  return (out ?? value) as T;
}
