import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/core/errors.js';
import { loadDesired } from '../../lib/reconcile/load-desired.js';
import { memorySnapshot, type MemoryFiles } from '../helpers/memory-source.js';

const topic = 'Resources:\n  Topic: {Type: AWS::SNS::Topic}\n';
const withParam = 'Parameters:\n  Cidr: {Type: String}\n  Env: {Type: String, Default: prod}\nResources:\n  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: !Ref Cidr}}\nOutputs:\n  VpcId: {Value: !Ref Vpc}\n';

async function problemsOf(files: MemoryFiles): Promise<string[]> {
  try {
    await loadDesired(memorySnapshot(files), 'test');
  } catch (error) {
    if (error instanceof ValidationError) return error.problems.map((p) => `${p.file}${p.line ? `:${p.line}` : ''} ${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('Core: desired state from cairn.yaml', () => {
  it('resolves stacks with defaults, deployment files, fromStack dependencies and merged tags', async () => {
    const desired = await loadDesired(
      memorySnapshot({
        'cairn.yaml': [
          'version: 1',
          'defaults:',
          '  region: eu-west-1',
          '  capabilities: [CAPABILITY_IAM]',
          '  tags: {owner: platform}',
          '  drift: revert',
          'stacks:',
          '  network:',
          '    template: stacks/network.yaml',
          '    parameters: {Cidr: 10.0.0.0/16}',
          '  app:',
          '    template: ./stacks/app.yaml',
          '    stackName: prod-app',
          '    tags: {team: web}',
          '    parameters:',
          '      VpcId: {fromStack: network, output: VpcId}',
          '  legacy:',
          '    deploymentFile: deploy/legacy.yaml',
          '    dependsOn: [app]',
        ].join('\n'),
        'stacks/network.yaml': withParam,
        'stacks/app.yaml': 'Parameters:\n  VpcId: {Type: String}\nResources:\n  Q: {Type: AWS::SQS::Queue}\n',
        'deploy/legacy.yaml': 'template-file-path: ./stacks/legacy.json\nparameters:\n  Size: 3\ntags:\n  tier: old\n',
        'stacks/legacy.json': '{"Parameters":{"Size":{"Type":"Number"}},"Resources":{"T":{"Type":"AWS::SNS::Topic"}}}',
      }),
      'platform',
    );
    const byId = Object.fromEntries(desired.stacks.map((s) => [s.id, s]));
    expect(byId['app']).toMatchObject({
      stackName: 'prod-app',
      region: 'eu-west-1',
      templateFile: 'stacks/app.yaml',
      dependsOn: ['network'],
      tags: { owner: 'platform', team: 'web' },
      capabilities: ['CAPABILITY_IAM'],
      drift: 'revert',
    });
    expect(byId['legacy']).toMatchObject({ templateFile: 'stacks/legacy.json', parameters: { Size: '3' }, tags: { owner: 'platform', tier: 'old' }, dependsOn: ['app'] });
    expect(byId['network']!.stackName).toBe('network');
    expect(desired.protectedTypes).toContain('AWS::DynamoDB::Table');
    expect(desired.prune).toBe(false);
  });

  it.each<[string, MemoryFiles, RegExp[]]>([
    [
      'unknown and mistyped keys, with a suggestion',
      { 'cairn.yaml': 'version: 1\nstacks:\n  a:\n    templte: x.yaml\n    dependson: []\nfoo: 1\n' },
      [/cairn\.yaml:4 stacks\.a\.templte: is not a known key; did you mean `template`\?/, /stacks\.a\.dependson: .*did you mean `dependsOn`/, /^cairn\.yaml:6 foo: is not a known key/],
    ],
    ['a wrong version', { 'cairn.yaml': 'version: 2\nstacks: {}\n' }, [/version: expected `version: 1`/]],
    ['a value of the wrong type', { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: t.yaml, terminationProtection: maybe}\n', 't.yaml': topic }, [/stacks\.a\.terminationProtection: expected true or false, got the string "maybe"/]],
    ['a missing template', { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: stacks/nope.yaml}\n' }, [/stacks\.a\.template: "stacks\/nope\.yaml" does not exist/]],
    ['a missing deployment file', { 'cairn.yaml': 'version: 1\nstacks:\n  a: {deploymentFile: deploy/nope.yaml}\n' }, [/stacks\.a\.deploymentFile: "deploy\/nope\.yaml" does not exist/]],
    [
      'a deployment file naming a missing template',
      { 'cairn.yaml': 'version: 1\nstacks:\n  a: {deploymentFile: d.yaml}\n', 'd.yaml': 'template-file-path: gone.yaml\n' },
      [/^d\.yaml template-file-path: "gone\.yaml" does not exist/],
    ],
    ['a template path with ..', { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: ../secret.yaml}\n' }, [/stacks\.a\.template: "\.\.\/secret\.yaml" leaves the repository/]],
    ['an absolute template path', { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: /etc/passwd}\n' }, [/absolute path/]],
    [
      'a symlink pointing outside',
      { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: link.yaml}\n', 'link.yaml': { symlink: '../../outside.yaml' } },
      [/"link\.yaml" is a symbolic link that points outside the repository/],
    ],
    [
      'dependsOn naming an unknown stack',
      { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: t.yaml, dependsOn: [netwrk]}\n', 't.yaml': topic },
      [/stacks\.a\.dependsOn\.0: names unknown stack "netwrk"; declared stacks are a/],
    ],
    [
      'fromStack naming an unknown stack',
      { 'cairn.yaml': 'version: 1\nstacks:\n  a:\n    template: t.yaml\n    parameters: {Cidr: {fromStack: b, output: X}}\n', 't.yaml': withParam },
      [/stacks\.a\.parameters\.Cidr\.fromStack: names unknown stack "b"/],
    ],
    [
      'a dependency cycle, named',
      {
        'cairn.yaml': 'version: 1\nstacks:\n  a: {template: t.yaml, dependsOn: [c]}\n  b: {template: t.yaml, dependsOn: [a]}\n  c: {template: t.yaml, dependsOn: [b]}\n',
        't.yaml': topic,
      },
      [/dependency cycle: a → c → b → a/],
    ],
    ['an invalid stack name', { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: t.yaml, stackName: 9bad_name}\n', 't.yaml': topic }, [/stacks\.a\.stackName: "9bad_name" is not a valid stack name/]],
    ['a stack id that is not a valid stack name', { 'cairn.yaml': 'version: 1\nstacks:\n  my_app: {template: t.yaml}\n', 't.yaml': topic }, [/stacks\.my_app: .*set `stackName`/]],
    [
      'a duplicate stack name',
      { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: t.yaml, stackName: same}\n  b: {template: t.yaml, stackName: same}\n', 't.yaml': topic },
      [/stacks\.b: uses stack name "same", already used by stack "a"/],
    ],
    ['a template that is not JSON or YAML', { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: t.yaml}\n', 't.yaml': 'Resources: {a: [}' }, [/^t\.yaml:1 : is not valid YAML/]],
    ['a template without Resources', { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: t.yaml}\n', 't.yaml': 'Outputs: {}\n' }, [/^t\.yaml(:1)? Resources: is missing or empty/]],
    [
      'a template over 1 MB',
      { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: t.yaml}\n', 't.yaml': `Resources: {A: {Type: AWS::SNS::Topic, Metadata: {x: "${'x'.repeat(1_100_000)}"}}}` },
      // Refused from its size, before it is read whole.
      [/stacks\.a\.template: "t\.yaml" is \d+ bytes, over the limit of 1 MiB for a template or deployment file; not read/],
    ],
    [
      'a parameter the template does not declare',
      { 'cairn.yaml': 'version: 1\nstacks:\n  a:\n    template: t.yaml\n    parameters: {Cidr: x, Sise: 3}\n', 't.yaml': withParam },
      [/stacks\.a\.parameters\.Sise: is not a parameter of t\.yaml \(it declares Cidr, Env\)/],
    ],
    [
      'a required template parameter with no value',
      { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: t.yaml}\n', 't.yaml': withParam },
      [/stacks\.a\.parameters: gives no value for Cidr, which t\.yaml declares without a Default/],
    ],
    ['a reserved tag key', { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: t.yaml, tags: {"cairn:source": x}}\n', 't.yaml': topic }, [/reserved for Cairn's ownership tags/]],
    ['both template and deploymentFile', { 'cairn.yaml': 'version: 1\nstacks:\n  a: {template: t.yaml, deploymentFile: d.yaml}\n' }, [/stacks\.a: needs exactly one of `template` or `deploymentFile`/]],
    ['no cairn.yaml', { 'README.md': 'hi' }, [/^cairn\.yaml : does not exist at commit/]],
    ['cairn.yaml that is not YAML', { 'cairn.yaml': 'version: 1\nstacks: {a: [\n' }, [/cairn\.yaml:\d+ : is not valid YAML/]],
  ])('reports %s, naming the file and the path', async (_name, files, expected) => {
    const problems = await problemsOf(files);
    for (const pattern of expected) expect(problems.some((p) => pattern.test(p)), `${pattern} in\n${problems.join('\n')}`).toBe(true);
  });

  it('reports every problem at once', async () => {
    const problems = await problemsOf({
      'cairn.yaml': 'version: 1\nstacks:\n  a: {template: nope.yaml}\n  b: {template: t.yaml, dependsOn: [zz]}\n  c: {template: t.yaml, stackName: "bad name"}\n',
      't.yaml': topic,
    });
    expect(problems).toHaveLength(3);
  });
});
