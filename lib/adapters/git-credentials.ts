/**
 * Git over HTTPS with a token: the basic-auth form each provider expects, URLs with their
 * credentials stripped for every message, and a scrubber that removes a token from any text that
 * came back from a server. A token is only ever held in memory and sent in an Authorization header.
 */

export type GitProvider = 'github' | 'gitlab' | 'gitea' | 'forgejo' | 'bitbucket' | 'generic';

export interface BasicCredentials {
  username: string;
  password: string;
}

/** A remote URL split into the URL Cairn uses and prints (no userinfo, query or fragment) and any userinfo it had. */
export interface RemoteUrl {
  url: string;
  username: string | undefined;
  password: string | undefined;
}

/** Split credentials out of an http(s) URL. Throws a TypeError, which never quotes the URL, for anything else. */
export function parseRemoteUrl(raw: string): RemoteUrl {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new TypeError('is not a URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new TypeError(`only http(s) Git URLs are supported, not ${parsed.protocol}`);
  }
  const username = parsed.username ? decodeURIComponent(parsed.username) : undefined;
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  return { url: redactUrl(raw), username, password };
}

/**
 * A URL safe to print: no userinfo, no query string (some servers take `?private_token=`), no
 * fragment, no trailing slash. Text that does not parse as a URL loses everything up to an `@`.
 */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/]*@/i, '$1');
  }
}

const KNOWN_HOSTS: Record<string, GitProvider> = {
  'github.com': 'github',
  'gitlab.com': 'gitlab',
  'bitbucket.org': 'bitbucket',
  'gitea.com': 'gitea',
  'codeberg.org': 'forgejo',
};

/** The provider of a well-known host, else generic (self-hosted servers need `provider` set). */
export function detectProvider(url: string): GitProvider {
  try {
    return KNOWN_HOSTS[new URL(url).hostname.toLowerCase()] ?? 'generic';
  } catch {
    return 'generic';
  }
}

/**
 * The basic-auth pair a provider expects for a token over HTTPS:
 * - GitHub: `x-access-token:<token>` (installation tokens need it; PATs accept it)
 * - GitLab: `oauth2:<token>` (OAuth, personal, project and group access tokens)
 * - Bitbucket Cloud: `x-token-auth:<token>` (repository, project and workspace access tokens)
 * - Gitea / Forgejo: the token as the user name with an empty password
 * - generic: `git:<token>`
 * A user name in the URL (`https://alice@host/repo.git`) is paired with the token instead.
 */
export function credentialsFor(provider: GitProvider, token: string, urlUsername?: string): BasicCredentials {
  if (urlUsername) return { username: urlUsername, password: token };
  switch (provider) {
    case 'github':
      return { username: 'x-access-token', password: token };
    case 'gitlab':
      return { username: 'oauth2', password: token };
    case 'bitbucket':
      return { username: 'x-token-auth', password: token };
    case 'gitea':
    case 'forgejo':
      return { username: token, password: '' };
    case 'generic':
      return { username: 'git', password: token };
  }
}

/**
 * Credentials from a secret's value, which may be a bare token, `user:password` (e.g. a Bitbucket
 * app password), or a Secrets Manager JSON object with `token`, or `username` and `password`.
 */
export function credentialsFromSecret(provider: GitProvider, value: string, urlUsername?: string): BasicCredentials {
  const text = value.trim();
  if (text.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new TypeError('the secret looks like JSON but does not parse');
    }
    const o = json as Record<string, unknown>;
    if (typeof o.username === 'string' && typeof o.password === 'string') return { username: o.username, password: o.password };
    if (typeof o.token === 'string') return credentialsFor(provider, o.token, urlUsername);
    throw new TypeError('the secret is JSON without "token", or "username" and "password"');
  }
  const colon = text.indexOf(':');
  if (colon > 0) return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  return credentialsFor(provider, text, urlUsername);
}

export function basicAuthHeader(creds: BasicCredentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')}`;
}

/**
 * A function that replaces every form of the given secrets with `***`, for text that came from a
 * server or a library: each secret as is, URL-encoded and JSON-escaped; and for the credentials
 * actually sent, the password (or, for a token sent as the user name, the user name), the
 * `user:password` pair in plain, URL userinfo and base64 (the `Basic` header value) forms.
 */
export function scrubber(secrets: Array<string | undefined>, creds?: BasicCredentials): (text: string) => string {
  const forms = new Set<string>();
  const add = (s: string | undefined): void => {
    if (!s || s.length < 4) return;
    forms.add(s);
    forms.add(encodeURIComponent(s));
    forms.add(JSON.stringify(s).slice(1, -1));
  };
  for (const s of secrets) add(s);
  if (creds) {
    // A user name is a secret only when it carries the token (Gitea and Forgejo's form).
    add(creds.password || creds.username);
    const pair = `${creds.username}:${creds.password}`;
    add(pair);
    add(`${encodeURIComponent(creds.username)}:${encodeURIComponent(creds.password)}`);
    forms.add(Buffer.from(pair, 'utf8').toString('base64'));
    forms.add(Buffer.from(pair, 'utf8').toString('base64url'));
  }
  const list = [...forms].filter((f) => f.length >= 4).sort((a, b) => b.length - a.length);
  return (text) => list.reduce((t, s) => t.split(s).join('***'), text);
}

/**
 * Request headers for a redirect to `next` from a request that started at `origin`: unchanged on the
 * same scheme, host and port; without Authorization and Cookie anywhere else (including https to
 * http on the same host, or another port), so a credential never follows a redirect off its origin.
 */
export function headersForRedirect(headers: Record<string, string> | undefined, origin: string, next: URL): Record<string, string> {
  if (next.origin === origin) return { ...headers };
  return Object.fromEntries(Object.entries(headers ?? {}).filter(([name]) => !/^(authorization|cookie|proxy-authorization)$/i.test(name)));
}
