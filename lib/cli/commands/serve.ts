/** `cairn serve`: the whole pipeline in one process (webhook endpoint, queue, reconciler, sweep, stack events), on the embedded account or AWS. */
import { FileApprovals } from '../../adapters/file-approvals.js';
import { commentCommandsWith } from '../../adapters/provider-access.js';
import { randomBytes } from 'node:crypto';
import { PROVIDERS, type Provider } from '../../core/source-config.js';
import { resolve } from 'node:path';
import { parseRepoLocation } from '../../adapters/commit-status/repo-location.js';
import { projectPath } from '../../adapters/commit-status/gitlab.js';
import { redactUrl } from '../../adapters/git-credentials.js';
import { postingFor, postingRepoUrl, type ProviderPosting } from '../../local/provider-posting.js';
import { LocalRuntime } from '../../local/runtime.js';
import type { IntakeLogEntry } from '../../webhooks/intake.js';
import { DESTINATION_OPTIONS, parse, parseDuration, UsageError } from '../args.js';
import { approvalsDir, cairnHome, defaultRegion, destinationsFor, inspectSource, parseTarget, requireSourceName, type GivenDestinations } from '../context.js';
import { PrinterSink } from '../event-printer.js';
import { EXIT } from '../exit-codes.js';
import { style } from '../style.js';
import type { SourceRepo } from '../../ports/source-repo.js';

const HELP = `Usage: cairn serve [options]

Runs Cairn's whole pipeline in this process: the webhook endpoint (POST /hooks/NAME), an in-process
FIFO queue, the reconciler, the drift sweep on its schedule, and stack status events, plus
GET /healthz and GET /status (JSON). A repository on disk is watched for new commits and branch
moves (never for saved files: only commits deploy), so no webhook is needed locally. It does not
start while files cairn.yaml reads have uncommitted edits, unless --allow-dirty. Ctrl-C stops
cleanly: the step in progress finishes, no new one starts.

Options:
  --repo URL|PATH     the repository to follow: an https URL, or a repository (or a directory in
                      one) on disk (default: the current directory)
  --branch BRANCH     the branch to follow (default: main for a URL; HEAD, whatever is checked
                      out, for a repository on disk)
  --path DIR          a source's directory inside the repository, e.g. envs/prod; repeat it to
                      follow several sources of one repository, each under its own name
  --source NAME       the source's name (default: each cairn.yaml's source:; only with one path)
  --allow-dirty       start even though files cairn.yaml reads have uncommitted edits (they are
                      still not deployed until committed)
  --port N            port for the endpoint (default: 8080; 0 picks a free one)
  --host H            address to listen on (default: 127.0.0.1)
  --provider P        the Git provider: ${PROVIDERS.join(', ')}
                      (default: github): the signature scheme of incoming webhooks and, with
                      --api-url, the API posted to
  --api-url URL       post pull-request preview comments and commit statuses (previews and pushes)
                      to the provider's API at URL, e.g. https://api.github.com,
                      https://gitlab.example.com/api/v4 (default: not posted, only logged)
  --api-repo REPO     the repository on the provider, OWNER/NAME (GitLab: GROUP/PROJECT); needed
                      unless --repo is a URL whose path names it
  --api-token-env N   the API token, from this environment variable (default: CAIRN_PROVIDER_TOKEN)
  --api-token-file F  the API token, from a file, read again on every call (so rotation applies)
  --target T          embedded (default; simulated account under $CAIRN_HOME) or aws
  --region R          region for stacks that name none (default: AWS_REGION, else us-east-1)
  --deploy-config F   take each source's destinations (roleArn, destinations.roleArns, .regions and
                      .accounts) from its entry in the deployment file F (cairn.deploy.json)
  --allow-role ARN    a role cairn.yaml may name (repeatable); a commit naming another stalls
                      (PolicyDenied) before any AWS call
  --allow-region R    a region stacks may go to (repeatable); likewise
  --allow-account ID  an account the deployer roles may be in (repeatable); likewise
  --token-env NAME    a private https repository's token, from this environment variable (the form
                      each provider expects: README, "Reading repositories and credentials")
  --token-file PATH   the same, from a file, read again on every fetch (so rotation applies)
  --sweep-every D     how often to sweep for drift and missed pushes, e.g. 10s, 15m (default: 15m; 0: never)
  --watch-every D     how often to look for new commits in a local repository (default: 2s)
  --json              one JSON object per line instead of readable lines

Environment: CAIRN_WEBHOOK_SECRET (the webhook secret; one is generated and printed when unset),
CAIRN_PROVIDER_TOKEN (the token for --api-url: may write commit statuses and pull request comments),
CAIRN_HOME (where the embedded account lives; default the per-user state directory, e.g.
~/.local/state/cairn).
`;

export const NOT_POSTED = 'PR comments and commit statuses are not posted: pass --provider and --api-url (and a token in CAIRN_PROVIDER_TOKEN) to post them; previews are only logged';

/** Where previews and statuses are posted (--api-url and its companions), checked before anything starts. */
async function postingOptions(
  values: { 'api-url'?: string; 'api-repo'?: string; 'api-token-env'?: string; 'api-token-file'?: string },
  provider: Provider,
  repoUrl: string | undefined,
): Promise<{ posting: ProviderPosting; repository: string; tokenFrom: string } | undefined> {
  const apiUrl = values['api-url'];
  if (!apiUrl) {
    const stray = (['api-repo', 'api-token-env', 'api-token-file'] as const).find((k) => values[k] !== undefined);
    if (stray) throw new UsageError(`--${stray} says how to post to the provider's API, which --api-url URL turns on`);
    return undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(apiUrl);
  } catch {
    throw new UsageError(`--api-url: "${apiUrl}" is not a URL; give the API root, e.g. https://api.github.com`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new UsageError(`--api-url: "${redactUrl(apiUrl)}" is not an http(s) URL`);
  if (parsed.username || parsed.password) throw new UsageError('--api-url: the URL carries credentials, which would show in the output; give the token in CAIRN_PROVIDER_TOKEN, --api-token-env NAME or --api-token-file PATH instead');
  if (provider === 'generic') throw new UsageError('--api-url: a generic Git server has no pull request or commit status API; name the provider with --provider');
  const repository = values['api-repo'] ?? repoUrl;
  if (!repository) throw new UsageError('--api-url: the repository is on disk, so say which repository on the provider it is with --api-repo OWNER/NAME');
  let postingRepo: string;
  try {
    postingRepo = postingRepoUrl({ apiUrl, repository });
  } catch (error) {
    throw new UsageError(`${values['api-repo'] ? '--api-repo' : '--api-url'}: ${error instanceof Error ? error.message : String(error)}${values['api-repo'] ? '' : '; name the repository on the provider with --api-repo OWNER/NAME'}`);
  }
  const env = values['api-token-env'];
  const file = values['api-token-file'];
  if (env && file) throw new UsageError('give either --api-token-env or --api-token-file, not both');
  if (file) {
    const { FileSecrets } = await import('../../adapters/file-secrets.js');
    const path = resolve(file);
    return { posting: { provider, apiUrl, repository: postingRepo, tokenSecret: path, secrets: new FileSecrets() }, repository: shownRepository(postingRepo, apiUrl, provider), tokenFrom: path };
  }
  const name = env ?? 'CAIRN_PROVIDER_TOKEN';
  if (!process.env[name]) throw new UsageError(`--api-url: the environment variable ${name} is not set; export it with a token that may write commit statuses and pull request comments${env ? '' : ' (or name another with --api-token-env, or a file with --api-token-file)'}`);
  const { EnvSecrets } = await import('../../adapters/env-secrets.js');
  return { posting: { provider, apiUrl, repository: postingRepo, tokenSecret: name, secrets: new EnvSecrets() }, repository: shownRepository(postingRepo, apiUrl, provider), tokenFrom: `$${name}` };
}

/** The repository as the provider names it, for the start-up lines. */
function shownRepository(repoUrl: string, apiUrl: string, provider: Provider): string {
  const location = parseRepoLocation(repoUrl);
  if (provider === 'gitlab') return projectPath(location, apiUrl);
  return location.segments.slice(-2).join('/');
}

function intakeLine(e: IntakeLogEntry): string {
  const what = e.outcome === 'queued' ? style.green('queued') : e.statusCode >= 400 ? style.red(`${e.outcome} (${e.statusCode})`) : style.dim(e.outcome);
  const ref = e.branch ? ` ${e.branch}${e.commit ? `@${e.commit.slice(0, 7)}` : ''}` : '';
  return `${style.cyan('⇢')} webhook ${e.eventType ?? ''}${ref}${e.deliveryId ? style.dim(` delivery ${e.deliveryId}`) : ''}: ${what}${e.outcome !== 'queued' ? style.dim(` ${e.message}`) : ''}`;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(
    'serve',
    argv,
    {
      repo: { type: 'string' },
      branch: { type: 'string' },
      path: { type: 'string', multiple: true },
      source: { type: 'string' },
      'allow-dirty': { type: 'boolean' },
      port: { type: 'string' },
      host: { type: 'string' },
      provider: { type: 'string' },
      'api-url': { type: 'string' },
      'api-repo': { type: 'string' },
      'api-token-env': { type: 'string' },
      'api-token-file': { type: 'string' },
      target: { type: 'string' },
      region: { type: 'string' },
      ...DESTINATION_OPTIONS,
      'sweep-every': { type: 'string' },
      'watch-every': { type: 'string' },
      json: { type: 'boolean' },
    },
    0,
  );
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const port = Number(values.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: "${values.port}" is not a port number`);
  const provider = (values.provider ?? 'github') as Provider;
  if (!PROVIDERS.includes(provider)) throw new UsageError(`--provider: "${values.provider}" is not one of ${PROVIDERS.join(', ')}`);
  const sweepEveryMs = values['sweep-every'] === '0' ? 0 : parseDuration(values['sweep-every'] ?? '15m', '--sweep-every');
  const watchEveryMs = parseDuration(values['watch-every'] ?? '2s', '--watch-every');
  const target = parseTarget(values.target);
  const region = defaultRegion(values.region);
  const location = values.repo ?? '.';
  const isUrl = /^https?:\/\//i.test(location);
  if (isUrl && /^https?:\/\/[^/]*@/i.test(location)) {
    throw new UsageError('--repo: the URL carries credentials, which would show in /status and the output; give the token with --token-env NAME or --token-file PATH instead');
  }
  const paths: (string | undefined)[] = values.path?.length ? values.path : [undefined];
  if (values.source && paths.length > 1) throw new UsageError('--source names one source; with several --path, each cairn.yaml names its own with `source:`');
  const branch = values.branch ?? (isUrl ? 'main' : 'HEAD');
  const posting = await postingOptions(values, provider, isUrl ? location : undefined);
  const followed: { name: string; repo: SourceRepo; path: string | undefined; destinations: GivenDestinations | undefined }[] = [];
  const policy = { 'allow-role': values['allow-role'], 'allow-region': values['allow-region'], 'allow-account': values['allow-account'], 'deploy-config': values['deploy-config'] };
  for (const path of paths) {
    const loaded = await inspectSource(
      {
        repo: location,
        ...(values.branch || isUrl ? { ref: branch } : {}),
        ...(path ? { path } : {}),
        ...(values.source ? { source: values.source } : {}),
        ...(values['token-env'] ? { 'token-env': values['token-env'] } : {}),
        ...(values['token-file'] ? { 'token-file': values['token-file'] } : {}),
      },
      undefined,
      values['allow-dirty'] ? {} : { refuseUncommitted: { command: 'serve', allowDirty: 'to start anyway (uncommitted edits are still not deployed)' } },
    );
    const name = requireSourceName(loaded);
    const twin = followed.find((f) => f.name === name);
    if (twin) throw new UsageError(`--path ${path ?? '.'} and --path ${twin.path ?? '.'} both name source "${name}"; each source needs its own name (\`source:\` in its cairn.yaml)`);
    followed.push({ name, repo: loaded.repo, path, destinations: destinationsFor(policy, name) });
  }
  const json = values.json === true;
  const out = process.stdout;
  const sink = new PrinterSink(out, { json, timestamps: true });

  let secret = process.env['CAIRN_WEBHOOK_SECRET'];
  const generated = !secret;
  secret ||= randomBytes(24).toString('hex');

  let account: import('../../adapters/embedded-account/index.js').EmbeddedAccount | undefined;
  let gateways: import('../../ports/stack-gateway.js').GatewayFactory;
  let description: string;
  if (target === 'aws') {
    const { CloudFormationGateway } = await import('../../adapters/cloudformation-gateway.js');
    const cache = new Map<string, InstanceType<typeof CloudFormationGateway>>();
    gateways = (r: string | undefined) => {
      const key = r ?? region;
      let g = cache.get(key);
      if (!g) cache.set(key, (g = new CloudFormationGateway({ region: key, templateBucket: process.env['CAIRN_TEMPLATE_BUCKET'] })));
      return g;
    };
    description = `AWS account (${region})`;
  } else {
    const { EmbeddedAccount } = await import('../../adapters/embedded-account/index.js');
    const { withRetries } = await import('../../adapters/retrying-gateway.js');
    const embedded = new EmbeddedAccount({ home: cairnHome(), region, autoAdvance: true });
    account = embedded;
    const cache = new Map<string, ReturnType<typeof withRetries>>();
    gateways = (r: string | undefined) => {
      const key = r ?? region;
      let g = cache.get(key);
      if (!g) cache.set(key, (g = withRetries(embedded.gateway(key))));
      return g;
    };
    description = `embedded account (${region}, ${cairnHome()})`;
  }

  const approvals = new FileApprovals(approvalsDir());
  // `/cairn approve` comments, checked with the same provider API and token the comments go to.
  const commentCommands =
    posting && (provider === 'github' || provider === 'gitlab')
      ? commentCommandsWith({ approvals: async () => approvals, secrets: posting.posting.secrets, apiBaseUrl: posting.posting.apiUrl, tokenSecret: posting.posting.tokenSecret, repoUrl: posting.posting.repository })
      : undefined;
  const runtime = new LocalRuntime({
    sources: followed.map(({ name, repo, path, destinations }) => ({
      name,
      repo,
      provider,
      branch,
      location,
      ...(path ? { path } : {}),
      ...(destinations ? { destinations } : {}),
      watch: !isUrl,
      ...(posting ? postingFor(posting.posting, name, sink) : {}),
    })),
    webhookSecret: secret,
    gateways,
    ...(account ? { account } : {}),
    sink,
    host: values.host ?? '127.0.0.1',
    port,
    sweepEveryMs,
    watchEveryMs,
    approvals,
    ...(commentCommands ? { commentCommands } : {}),
    onIntake: (e) => (json ? out.write(`${JSON.stringify({ time: new Date().toISOString(), type: 'webhook', ...e })}\n`) : out.write(`${intakeLine(e)}\n`)),
  });
  const { url } = await runtime.start();
  if (json) {
    for (const { name, repo } of followed) {
      out.write(
        `${JSON.stringify({ time: new Date().toISOString(), type: 'serving', source: name, repo: repo.description, target, url, webhook: `${url}/hooks/${name}`, posting: posting ? { provider, apiUrl: redactUrl(posting.posting.apiUrl), repository: posting.repository } : null, ...(generated ? { generatedSecret: secret } : {}) })}\n`,
      );
    }
    if (!posting) out.write(`${JSON.stringify({ time: new Date().toISOString(), source: 'runtime', type: 'log', level: 'info', message: NOT_POSTED })}\n`);
  } else {
    out.write(
      [
        ...followed.map(({ name, repo }) => `${style.bold('Cairn')} is following source ${style.bold(`"${name}"`)} (${repo.description}${isUrl ? '' : ', watched for new commits'}) on the ${description}`),
        ...followed.map(({ name }) => `  webhook  POST ${url}/hooks/${name}  (${provider} signature)`),
        `  secret   ${generated ? `generated for this run: ${secret}  — set CAIRN_WEBHOOK_SECRET to choose one` : 'from CAIRN_WEBHOOK_SECRET'}`,
        `  status   GET  ${url}/status     health: GET ${url}/healthz`,
        `  sweep    ${sweepEveryMs ? `every ${values['sweep-every'] ?? '15m'}` : 'off'}`,
        posting
          ? `  posts    PR preview comments and commit statuses to ${posting.repository} on the ${provider} API at ${redactUrl(posting.posting.apiUrl)} (token from ${posting.tokenFrom})`
          : `  ${style.yellow('note')}     ${NOT_POSTED}`,
        `Press Ctrl-C to stop.`,
        '',
      ].join('\n'),
    );
  }

  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (): void => {
      if (stopping) {
        out.write('Stopping now, without waiting.\n');
        process.exit(130);
      }
      stopping = true;
      if (!json) out.write(`\n${style.dim('Stopping: the step in progress finishes, nothing new starts (Ctrl-C again to quit at once)...')}\n`);
      void runtime
        .stop()
        .then(() => account?.close())
        .then(() => {
          if (!json) out.write('Stopped.\n');
          resolve();
        });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return EXIT.ok;
}
