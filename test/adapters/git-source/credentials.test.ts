/** Tokens per provider, against a server that requires credentials, and the rule that a token never leaks. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  credentialsFor,
  credentialsFromSecret,
  detectProvider,
  redactUrl,
  scrubber,
  type GitProvider,
} from '../../../lib/adapters/git-credentials.js';
import { GitSource, type GitSnapshotReport } from '../../../lib/adapters/git-source.js';
import type { SecretProvider } from '../../../lib/ports/secrets.js';
import { createRepo, startGitServer, type GitServer, type TestRepo } from '../../helpers/git-server.js';

const TOKEN = 'ghp_s3cr3tT0kenValue1234567890';
const WRONG = 'glpat-wr0ngT0kenValue0987654321';

function secrets(values: Record<string, string>): SecretProvider {
  return {
    get: async (name) => {
      const value = values[name];
      if (value === undefined) throw new Error(`no secret named ${name}`);
      return value;
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<Error & { reason?: string; hint?: string; cause?: unknown }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { reason?: string };
  }
  throw new Error('expected a rejection');
}

describe('credentialsFor', () => {
  it.each<[GitProvider, string, string]>([
    ['github', 'x-access-token', TOKEN],
    ['gitlab', 'oauth2', TOKEN],
    ['bitbucket', 'x-token-auth', TOKEN],
    ['gitea', TOKEN, ''],
    ['forgejo', TOKEN, ''],
    ['generic', 'git', TOKEN],
  ])('presents a %s token as %s', (provider, username, password) => {
    expect(credentialsFor(provider, TOKEN)).toEqual({ username, password });
  });

  it('pairs the token with a user name given in the URL', () => {
    expect(credentialsFor('bitbucket', TOKEN, 'alice')).toEqual({ username: 'alice', password: TOKEN });
  });
});

describe('credentialsFromSecret', () => {
  it('takes a user:password secret as it is', () => {
    expect(credentialsFromSecret('bitbucket', 'alice:app-password')).toEqual({ username: 'alice', password: 'app-password' });
  });

  it('reads a Secrets Manager JSON secret with a token, or with a user name and password', () => {
    expect(credentialsFromSecret('gitlab', JSON.stringify({ token: TOKEN }))).toEqual({ username: 'oauth2', password: TOKEN });
    expect(credentialsFromSecret('gitlab', JSON.stringify({ username: 'bot', password: 'pw' }))).toEqual({ username: 'bot', password: 'pw' });
  });

  it('rejects JSON without a usable field, without echoing the value', () => {
    expect(() => credentialsFromSecret('github', JSON.stringify({ value: TOKEN }))).toThrow(/without "token"/);
    try {
      credentialsFromSecret('github', JSON.stringify({ value: TOKEN }));
    } catch (err) {
      expect(String(err)).not.toContain(TOKEN);
    }
  });
});

describe('redactUrl', () => {
  it.each([
    [`https://x-access-token:${TOKEN}@github.com/org/repo.git`, 'https://github.com/org/repo.git'],
    [`https://${TOKEN}@gitea.example.com/org/repo.git/`, 'https://gitea.example.com/org/repo.git'],
    [`https://gitlab.com/org/repo.git?private_token=${TOKEN}#x`, 'https://gitlab.com/org/repo.git'],
    [`not a url ${TOKEN}@host/x`, 'host/x'],
  ])('strips credentials from %s', (raw, redacted) => {
    expect(redactUrl(raw)).toBe(redacted);
  });
});

describe('detectProvider', () => {
  it('knows the public hosts and falls back to generic', () => {
    expect(detectProvider('https://github.com/a/b.git')).toBe('github');
    expect(detectProvider('https://gitlab.com/a/b.git')).toBe('gitlab');
    expect(detectProvider('https://bitbucket.org/a/b.git')).toBe('bitbucket');
    expect(detectProvider('https://codeberg.org/a/b.git')).toBe('forgejo');
    expect(detectProvider('https://git.example.com/a/b.git')).toBe('generic');
  });
});

describe('scrubber', () => {
  it('removes a token in plain, URL-encoded and basic-auth form', () => {
    const token = 'a/b+c=d';
    const scrub = scrubber([token], { username: 'x-access-token', password: token });
    const header = Buffer.from(`x-access-token:${token}`).toString('base64');
    expect(scrub(`t=${token} u=${encodeURIComponent(token)} h=${header}`)).toBe('t=*** u=*** h=***');
  });
});

describe('GitSource with credentials', () => {
  let server: GitServer;
  let repo: TestRepo;
  let cacheRoot: string;
  let n = 0;
  const logged: string[] = [];

  beforeAll(async () => {
    // Accepts the token as the password (any user) or as the user name with no password (Gitea style).
    server = await startGitServer({ auth: (u, p) => p === TOKEN || (u === TOKEN && p === '') });
    repo = await createRepo(server, 'private', { 'cairn.yaml': 'version: 1\n' });
    cacheRoot = await mkdtemp(join(tmpdir(), 'cairn-git-cred-test-'));
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        logged.push(args.map(String).join(' '));
      });
    }
  });

  afterEach(() => {
    server.resetRequests();
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await server.stop();
    await rm(cacheRoot, { recursive: true, force: true });
  });

  function make(options: { url?: string; provider?: GitProvider; token?: string; tokenSecret?: string } = {}) {
    const reports: GitSnapshotReport[] = [];
    const src = new GitSource({
      url: options.url ?? repo.url!,
      branch: 'main',
      provider: options.provider,
      tokenSecret: options.tokenSecret ?? (options.token === undefined ? undefined : 'git/platform-token'),
      secrets: secrets({ 'git/platform-token': options.token ?? '' }),
      cacheDir: join(cacheRoot, `c${++n}`),
      onSnapshot: (r) => reports.push(r),
    });
    return { src, reports };
  }

  it.each<[GitProvider, string]>([
    ['github', 'x-access-token'],
    ['gitlab', 'oauth2'],
    ['bitbucket', 'x-token-auth'],
    ['gitea', TOKEN],
    ['forgejo', TOKEN],
    ['generic', 'git'],
  ])('authenticates a %s token as user %s with the first request', async (provider, username) => {
    const { src } = make({ provider, token: TOKEN });
    const snap = await src.snapshot();
    expect(new TextDecoder().decode(await snap.readFile('cairn.yaml'))).toBe('version: 1\n');
    // A preemptive Authorization header: no unauthenticated probe answered 401 first.
    expect(server.requests.map((r) => [r.kind, r.status, r.username])).toEqual([
      ['info-refs', 200, username],
      ['upload-pack', 200, username],
    ]);
  });

  it('says which secret was refused when the token is wrong, with one request', async () => {
    const { src } = make({ provider: 'github', token: WRONG });
    const err = await rejection(src.snapshot());
    expect(err.name).toBe('SourceAccessDeniedError');
    expect(err.reason).toBe('AccessDenied');
    expect(err.message).toContain(`Access to ${repo.url} (branch main) was denied`);
    expect(err.message).toContain('the token from secret "git/platform-token" was refused (HTTP 401');
    expect(server.count('info-refs')).toBe(1);
  });

  it('says no token is configured when the server asks for one', async () => {
    const err = await rejection(make().src.snapshot());
    expect(err.reason).toBe('AccessDenied');
    expect(err.message).toContain('no token is configured');
    expect(err.hint).toContain('tokenSecret');
  });

  it('reports a secret that cannot be read by its name', async () => {
    const err = await rejection(make({ tokenSecret: 'git/missing' }).src.snapshot());
    expect(err.reason).toBe('SourceUnavailable');
    expect(err.message).toContain('the token secret "git/missing" could not be read');
  });

  it('accepts a token in the URL and strips it from the description and every message', async () => {
    const url = repo.url!.replace('http://', `http://x-access-token:${TOKEN}@`);
    const { src, reports } = make({ url });
    expect(src.description).toBe(`${repo.url}@main`);
    await src.snapshot();
    expect(JSON.stringify(reports)).not.toContain(TOKEN);
    const bad = make({ url: repo.url!.replace('http://', `http://x-access-token:${WRONG}@`) });
    const err = await rejection(bad.src.snapshot());
    expect(err.message).toContain('the credentials in the URL were refused');
    expect(err.message).not.toContain(WRONG);
  });

  it('never lets a token into an error, a report, a log line or the cache on disk', async () => {
    const failures: unknown[] = [];
    const reports: GitSnapshotReport[] = [];
    const cases = [
      make({ provider: 'github', token: WRONG }),
      make({ provider: 'gitea', token: WRONG }),
      make({ url: repo.url!.replace('http://', `http://u:${WRONG}@`) }),
      make({ url: repo.url!.replace('http://', `http://${WRONG}@`) }),
      make({ url: `http://x:${WRONG}@127.0.0.1:1/none.git?private_token=${WRONG}` }),
      make({ provider: 'gitlab', token: JSON.stringify({ value: WRONG }) }),
    ];
    for (const { src } of cases) failures.push(await rejection(src.snapshot()));
    const ok = make({ provider: 'gitlab', token: TOKEN });
    await ok.src.snapshot();
    reports.push(...ok.reports);

    const everything = [
      ...failures.flatMap((e) => {
        const err = e as Error & { hint?: string; cause?: Error };
        return [err.message, err.stack ?? '', err.hint ?? '', String(err.cause), err.cause?.stack ?? '', JSON.stringify(err)];
      }),
      ...cases.map((c) => c.src.description),
      JSON.stringify(reports),
      ...logged,
    ].join('\n');
    expect(failures).toHaveLength(6);
    for (const secret of [WRONG, TOKEN, encodeURIComponent(WRONG), Buffer.from(`x-access-token:${WRONG}`).toString('base64')]) {
      expect(everything).not.toContain(secret);
    }
    const onDisk = await readTree(cacheRoot);
    expect(onDisk).not.toContain(TOKEN);
    expect(onDisk).not.toContain(WRONG);
  });
});

async function readTree(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) parts.push(e.name, await readTree(full));
    else parts.push(e.name, (await readFile(full)).toString('latin1'));
  }
  return parts.join('\n');
}
