/**
 * The deployment configuration schema the webhook routes by: defaults, and one named problem per
 * bad field with its dotted path.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/core/errors.js';
import { findSource, parseDeploymentConfig } from '../../lib/core/source-config.js';

const VALID = {
  name: 'platform-prod',
  repoUrl: 'https://github.com/org/platform.git',
  provider: 'github',
  webhookSecretName: 'cairn/platform-prod/webhook',
};

function problemsOf(input: unknown) {
  try {
    parseDeploymentConfig(input, 'cairn-config.json');
  } catch (error) {
    if (error instanceof ValidationError) return error.problems;
    throw error;
  }
  throw new Error('expected a ValidationError');
}

describe('Core: source configuration', () => {
  it('fills in branch main and keeps optional fields absent', () => {
    const config = parseDeploymentConfig({ sources: [VALID] }, 'cairn-config.json');
    expect(config).toEqual({ sources: [{ ...VALID, branch: 'main' }] });
    expect(findSource(config, 'platform-prod')?.branch).toBe('main');
    expect(findSource(config, 'other')).toBeUndefined();
  });

  it('accepts JSON text, as the CAIRN_CONFIG variable holds it', () => {
    const config = parseDeploymentConfig(JSON.stringify({ sources: [{ ...VALID, branch: 'release/2026', previousWebhookSecretName: 'old' }] }), 'env');
    expect(config.sources[0]).toMatchObject({ branch: 'release/2026', previousWebhookSecretName: 'old' });
  });

  it('accepts scp-like and ssh repository URLs', () => {
    for (const repoUrl of ['git@github.com:org/platform.git', 'ssh://git@git.example.com:2222/org/platform.git']) {
      expect(parseDeploymentConfig({ sources: [{ ...VALID, repoUrl }] }, 'c').sources[0]?.repoUrl).toBe(repoUrl);
    }
  });

  it('reports every bad field at once, each with its file and dotted path', () => {
    const problems = problemsOf({
      sources: [
        { ...VALID, name: 'Platform Prod', provider: 'svn', roleArn: 'deployer' },
        { ...VALID, branch: 'refs/heads/main', extra: true },
      ],
    });
    expect(problems).toEqual([
      { file: 'cairn-config.json', path: 'sources.0.name', message: 'expected lower-case letters, digits and hyphens, e.g. platform-prod' },
      { file: 'cairn-config.json', path: 'sources.0.provider', message: 'expected one of github, gitlab, gitea, forgejo, bitbucket, generic' },
      {
        file: 'cairn-config.json',
        path: 'sources.0.roleArn',
        message: 'expected an IAM role ARN such as arn:aws:iam::123456789012:role/cairn-deployer',
      },
      { file: 'cairn-config.json', path: 'sources.1.branch', message: 'expected the branch name (e.g. main), not a full ref' },
      { file: 'cairn-config.json', path: 'sources.1', message: expect.stringContaining('extra') },
    ]);
  });

  it('refuses two sources of the same name', () => {
    expect(problemsOf({ sources: [VALID, VALID] })).toEqual([
      { file: 'cairn-config.json', path: 'sources.1.name', message: 'duplicate source name platform-prod' },
    ]);
  });

  it('refuses credentials in an https repository URL', () => {
    const [problem] = problemsOf({ sources: [{ ...VALID, repoUrl: 'https://x-access-token:ghp_abc@github.com/org/platform.git' }] });
    expect(problem).toMatchObject({ path: 'sources.0.repoUrl', message: expect.stringContaining('gitTokenSecretName') });
    expect(problem?.message).not.toContain('ghp_abc');
  });

  it.each([['a b'], ['a..b'], ['-main'], ['main.lock'], ['feature/'], ['']])('refuses the branch name %j', (branch) => {
    expect(problemsOf({ sources: [{ ...VALID, branch }] })[0]?.path).toBe('sources.0.branch');
  });

  it('names the variable when the JSON itself is broken', () => {
    expect(() => parseDeploymentConfig('{"sources": [', 'environment variable CAIRN_CONFIG')).toThrow(
      /^environment variable CAIRN_CONFIG: is not valid JSON: /,
    );
  });

  it('refuses a configuration without sources', () => {
    expect(problemsOf({})).toEqual([{ file: 'cairn-config.json', path: 'sources', message: expect.any(String) }]);
  });
});
