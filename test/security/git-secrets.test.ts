/**
 * Security: no Git credential leaks, whatever the server echoes. A real git smart-HTTP server on
 * 127.0.0.1 repeats the Authorization header, the decoded `user:password` and the password in the
 * reason phrase and body of every error; the token secret is held in each form Cairn accepts (a
 * bare token, `user:password`, JSON with `token`, JSON with `username` and `password`). No form of
 * it may reach an error's message, hint, cause or stack. A redirect to another port of the same
 * host (another origin) must not carry Authorization; one within the origin keeps it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvSecrets } from '../../lib/adapters/env-secrets.js';
import { headersForRedirect, scrubber } from '../../lib/adapters/git-credentials.js';
import { GitSource } from '../../lib/adapters/git-source.js';
import { writeFile } from 'node:fs/promises';
import { cairnAsync } from '../helpers/cli.js';
import { createRepo, startGitServer, type GitServer, type TestRepo } from '../helpers/git-server.js';

const TOKEN = 'gt_S3cr3t/Tok+en=Zq9"x';
const USER = 'deploy-bot';
const PASSWORD = 'pw_0ther/Pass+wd=Kk7';

/** Every secret form: the secret value, how it is sent, and every spelling of what must not appear. */
const FORMS = [
  { name: 'a bare token', value: TOKEN, user: 'x-access-token', password: TOKEN },
  { name: 'user:password', value: `${USER}:${PASSWORD}`, user: USER, password: PASSWORD },
  { name: 'JSON with token', value: JSON.stringify({ token: TOKEN }), user: 'x-access-token', password: TOKEN },
  { name: 'JSON with username and password', value: JSON.stringify({ username: USER, password: PASSWORD }), user: USER, password: PASSWORD },
];

function leaksOf(form: (typeof FORMS)[number]): string[] {
  const pair = `${form.user}:${form.password}`;
  return [
    form.value,
    form.password,
    encodeURIComponent(form.password),
    JSON.stringify(form.password).slice(1, -1),
    pair,
    Buffer.from(pair).toString('base64'),
    Buffer.from(pair).toString('base64url'),
    `${encodeURIComponent(form.user)}:${encodeURIComponent(form.password)}`,
  ];
}

/** Everything there is to read about an error and its causes. */
function describeError(error: unknown): string {
  const parts: string[] = [inspect(error, { depth: 8 })];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    parts.push(e.name, e.message, e.stack ?? '', JSON.stringify(e), String((e as { hint?: unknown }).hint ?? ''));
  }
  return parts.join('\n');
}

let git: GitServer;
let repo: TestRepo;
let home: string;
let accepted = { user: 'x-access-token', password: TOKEN };

beforeAll(async () => {
  git = await startGitServer({ auth: (u, p) => u === accepted.user && p === accepted.password, echoCredentials: true });
  repo = await createRepo(git, 'platform', { 'cairn.yaml': 'version: 1\nsource: platform\nstacks: {}\n' });
  home = await mkdtemp(join(tmpdir(), 'cairn-git-secrets-'));
});

afterAll(async () => {
  await git.stop();
  await rm(home, { recursive: true, force: true });
});

function source(value: string, url = repo.url!): GitSource {
  return new GitSource({ url, branch: repo.branch, provider: 'github', tokenSecret: 'GIT_TOKEN', secrets: new EnvSecrets({ env: { GIT_TOKEN: value } }), cacheDir: join(home, `cache-${Math.random()}`), timeoutMs: 10_000 });
}

describe('Security: Git credentials never leak', () => {
  it.each(FORMS)('a refused credential held as $name is named by its secret, never shown', async (form) => {
    accepted = { user: 'someone-else', password: 'not-this-one' };
    const error = await source(form.value).snapshot().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: 'SourceAccessDeniedError' });
    // The server did receive and echo the credential, so its absence below means something.
    expect(git.requests.at(-1)).toMatchObject({ status: 401, username: form.user });
    const text = describeError(error);
    expect(text).toContain('the token from secret "GIT_TOKEN" was refused');
    for (const leak of leaksOf(form)) expect(text.includes(leak), `error contains ${JSON.stringify(leak)}`).toBe(false);
  });

  it.each(FORMS)('a server error echoing an accepted credential held as $name is scrubbed', async (form) => {
    accepted = { user: form.user, password: form.password };
    git.failWith(500);
    try {
      const error = await source(form.value).snapshot().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: 'SourceUnavailableError' });
      const text = describeError(error);
      expect(text).toMatch(/500 failing with 500 \(you sent Basic \*\*\*, that is \*\*\*; password \*\*\*\)/);
      for (const leak of leaksOf(form)) expect(text.includes(leak), `error contains ${JSON.stringify(leak)}`).toBe(false);
    } finally {
      git.failWith(undefined);
    }
  });

  it('follows a redirect within the origin with the credential', async () => {
    accepted = { user: 'x-access-token', password: TOKEN };
    git.intercept((req, res) => {
      if (!req.url?.startsWith('/moved/')) return false;
      res.writeHead(307, { location: req.url.slice('/moved'.length) }).end();
      return true;
    });
    try {
      const snapshot = await source(TOKEN, `${git.baseUrl}/moved/platform.git`).snapshot();
      expect(snapshot.commit).toMatch(/^[0-9a-f]{40}$/);
    } finally {
      git.intercept(undefined);
    }
  });

  it('drops Authorization on a redirect to another port of the same host', async () => {
    const seen: (string | undefined)[] = [];
    const elsewhere: Server = createServer((req: IncomingMessage, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(401, { 'content-type': 'text/plain' }).end(`you sent ${req.headers.authorization ?? 'nothing'}\n`);
    });
    await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r));
    const port = (elsewhere.address() as AddressInfo).port;
    git.intercept((req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${port}${req.url}` }).end();
      return true;
    });
    try {
      const error = await source(TOKEN).snapshot().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: 'SourceAccessDeniedError' });
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((a) => a === undefined)).toBe(true);
    } finally {
      git.intercept(undefined);
      elsewhere.close();
    }
  });
});

describe('CLI: a private repository with a token from the environment or a file', () => {
  it('reads it with --token-env and --token-file, and names the variable when the token is refused', async () => {
    // A URL on an unknown host sends the token in the generic form, as user `git`.
    accepted = { user: 'git', password: TOKEN };
    const args = ['validate', '--repo', repo.url!, '--ref', repo.branch];
    const ok = await cairnAsync([...args, '--token-env', 'CAIRN_TEST_GIT_TOKEN'], { env: { CAIRN_TEST_GIT_TOKEN: TOKEN } });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const file = join(home, 'token');
    await writeFile(file, `${TOKEN}\n`);
    expect((await cairnAsync([...args, '--token-file', file])).status).toBe(0);
    const refused = await cairnAsync([...args, '--token-env', 'CAIRN_TEST_GIT_TOKEN'], { env: { CAIRN_TEST_GIT_TOKEN: 'gt_wrong_token_value' } });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('the token from secret "CAIRN_TEST_GIT_TOKEN" was refused');
    expect(refused.stderr).not.toContain('gt_wrong_token_value');
    const unset = await cairnAsync([...args, '--token-env', 'CAIRN_TEST_UNSET_VARIABLE']);
    expect(unset.stderr).toMatch(/the environment variable CAIRN_TEST_UNSET_VARIABLE is not set/);
  });

  it('refuses to serve a URL carrying a token, pointing at --token-env, without showing it', async () => {
    const r = await cairnAsync(['serve', '--repo', `http://x-access-token:${encodeURIComponent(TOKEN)}@127.0.0.1:9/platform.git`, '--port', '0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--token-env NAME or --token-file PATH');
    for (const leak of [TOKEN, encodeURIComponent(TOKEN)]) expect(r.stderr + r.stdout).not.toContain(leak);
  });
});

describe('Security: redirect and scrubbing rules', () => {
  const auth = { Authorization: 'Basic eA==', Accept: 'application/x-git-upload-pack-result' };
  it.each([
    ['the same origin', 'https://git.example/a.git', true],
    ['another host', 'https://evil.example/a.git', false],
    ['another port', 'https://git.example:8443/a.git', false],
    ['https to http on the same host', 'http://git.example/a.git', false],
  ])('a redirect to %s (%s) keeps Authorization: %s', (_what, next, kept) => {
    const headers = headersForRedirect(auth, 'https://git.example', new URL(next));
    expect('Authorization' in headers).toBe(kept);
    expect(headers.Accept).toBe(auth.Accept);
  });

  it('scrubs a Gitea token sent as the user name, and a whole secret it never parsed', () => {
    const scrub = scrubber(['{"token": "abcd1234efgh"'], { username: 'abcd1234efgh', password: '' });
    expect(scrub('user abcd1234efgh, secret {"token": "abcd1234efgh", basic YWJjZDEyMzRlZmdoOg==')).toBe('user ***, secret ***, basic ***');
  });
});
