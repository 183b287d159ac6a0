import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Problem } from '../../lib/core/errors.js';
import { withLines } from '../../lib/core/manifest.js';
import { checkTemplate } from '../../lib/core/template-checks.js';
import { parseTemplate } from '../../lib/core/template.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/templates/${name}`, import.meta.url), 'utf8');
const BASE = fixture('checks/queue-and-network.yaml');

function findings(text: string, file = 't.yaml'): Problem[] {
  const parsed = parseTemplate(text, file);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return withLines(checkTemplate(parsed.value.template, file), text, file);
}

const errors = (text: string): Problem[] => findings(text).filter((p) => !p.severity);

/** The base template with one text replaced, failing loudly if the text is not there. */
function variant(from: string, to: string): string {
  if (!BASE.includes(from)) throw new Error(`the base template has no "${from}"`);
  return BASE.replace(from, to);
}

describe('Core: template checks against the resource schemas', () => {
  it('finds nothing in a valid template using nested properties, tags, GetAtt, Cidr and Select', () => {
    expect(findings(BASE)).toEqual([]);
  });

  it.each([
    ['an unknown resource type', variant('Type: AWS::SQS::Queue\n    Properties:', 'Type: AWS::SQS::Queu\n    Properties:'), 'Resources.Queue.Type', 15, /not a known resource type: AWS::SQS::Queu; did you mean AWS::SQS::Queue\?/],
    ['a misspelled property', variant('VisibilityTimeout:', 'VisibilityTimout:'), 'Resources.Queue.Properties.VisibilityTimout', 17, /not a property of AWS::SQS::Queue; did you mean VisibilityTimeout\?/],
    ['a misspelled nested key', variant('Status: Enabled', 'Statuss: Enabled'), 'Resources.Bucket.Properties.VersioningConfiguration.Statuss', 27, /not a property of AWS::S3::Bucket.VersioningConfiguration; did you mean Status\?/],
    ['an attribute the type lacks', variant('Value: !GetAtt Queue.Arn', 'Value: !GetAtt Queue.Arnn'), 'Outputs.QueueArn.Value.Fn::GetAtt', 33, /AWS::SQS::Queue has no attribute Arnn; did you mean Arn\?/],
    ['a missing required property', variant('      VpcId: !Ref Vpc\n', ''), 'Resources.Subnet.Properties', 11, /is missing VpcId, which AWS::EC2::Subnet requires/],
    ['a list where a number belongs', variant('VisibilityTimeout: !Ref Timeout', 'VisibilityTimeout: [30]'), 'Resources.Queue.Properties.VisibilityTimeout', 17, /^expected an integer, got a list$/],
    ['an undefined Ref', variant('VpcId: !Ref Vpc', 'VpcId: !Ref Vcp'), 'Resources.Subnet.Properties.VpcId.Ref', 12, /refers to "Vcp", which is not a parameter or resource of this template; did you mean Vpc\?/],
  ])('reports %s with its path, line and a suggestion', (_name, text, path, line, message) => {
    const found = errors(text);
    expect(found[0]!.path).toBe(path);
    expect(found[0]!.message).toMatch(message);
    expect(found[0]!.line).toBe(line);
    // A misspelled required key also leaves the key it meant missing; nothing else is reported.
    expect(found.slice(1).map((p) => p.message)).toEqual(path.endsWith('Statuss') ? ['is missing Status, which AWS::S3::Bucket.VersioningConfiguration requires'] : []);
  });

  it('takes any value in a JSON property (an SQS RedrivePolicy)', () => {
    expect(errors(variant('maxReceiveCount: 5', 'maxReceiveCount: [5]'))).toEqual([]);
  });

  it('reports a string where a list belongs, and a mapping where a string belongs', () => {
    const found = errors(variant('      CidrBlock: 10.0.0.0/16\n', '      CidrBlock: {a: b}\n'));
    expect(found).toEqual([expect.objectContaining({ path: 'Resources.Vpc.Properties.CidrBlock', message: 'expected a string, got a mapping' })]);
    const tags = errors(variant('      Tags:\n        - Key: a\n          Value: b\n', '      Tags: a\n'));
    expect(tags).toEqual([expect.objectContaining({ path: 'Resources.Bucket.Properties.Tags', message: 'expected a list, got the string "a"' })]);
  });

  it('accepts numbers and booleans written as strings, and strings written as numbers', () => {
    const text = variant('VisibilityTimeout: !Ref Timeout', 'VisibilityTimeout: "30"\n      FifoQueue: "true"\n      QueueName: 12');
    expect(errors(text)).toEqual([]);
  });

  it('accepts an intrinsic function wherever a value is expected, and checks both branches of an If', () => {
    const ok = `Conditions:\n  C: !Equals [a, b]\nParameters:\n  Subnets: {Type: CommaDelimitedList}\nResources:\n  G:\n    Type: AWS::RDS::DBSubnetGroup\n    Properties:\n      DBSubnetGroupDescription: !Join ["", [x]]\n      SubnetIds: !Ref Subnets\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      DelaySeconds: !If [C, 5, !Ref AWS::NoValue]\n      MessageRetentionPeriod: !FindInMap [M, a, b]\nMappings:\n  M: {a: {b: 60}}\n`;
    expect(errors(ok)).toEqual([]);
    const bad = ok.replace('!If [C, 5, !Ref AWS::NoValue]', '!If [C, [5], 6]');
    expect(errors(bad)).toEqual([expect.objectContaining({ path: 'Resources.Q.Properties.DelaySeconds.Fn::If.1', message: 'expected an integer, got a list' })]);
  });

  it('reports undefined names in Sub, DependsOn, Condition and If, and attributes through Sub', () => {
    const text = `Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    DependsOn: [Topik]\n    Condition: Nope\n    Properties:\n      QueueName: !Sub "\${AWS::StackName}-\${Prefix}-\${Topic.TopicNam}-\${!Literal}"\n      DelaySeconds: !If [Missing, 1, 2]\n  Topic:\n    Type: AWS::SNS::Topic\n`;
    const found = errors(text);
    expect(found.map((p) => [p.path, p.message])).toEqual([
      ['Resources.Q.DependsOn.0', 'names "Topik", which is not a resource of this template; did you mean Topic?'],
      ['Resources.Q.Condition', 'names condition "Nope", which the template does not define'],
      ['Resources.Q.Properties.DelaySeconds.Fn::If.0', 'names condition "Missing", which the template does not define'],
      ['Resources.Q.Properties.QueueName.Fn::Sub', 'refers to "Prefix", which is not a parameter or resource of this template'],
      ['Resources.Q.Properties.QueueName.Fn::Sub', expect.stringMatching(/^AWS::SNS::Topic has no attribute TopicNam; did you mean TopicName\?/)],
    ]);
  });

  it('reports invalid Fn::Cidr and Fn::Select literals', () => {
    const text = `Resources:\n  Vpc:\n    Type: AWS::EC2::VPC\n    Properties:\n      CidrBlock: !Select [3, [a, b]]\n  S:\n    Type: AWS::EC2::Subnet\n    Properties:\n      VpcId: !Ref Vpc\n      CidrBlock: !Select [0, !Cidr [10.0.0.0/24, 4, 7]]\n      AvailabilityZone: !Select [-1, !GetAZs ""]\n      Ipv6CidrBlock: !Select [0, !Cidr [10.0.0.300/16, 0, 8]]\n`;
    expect(errors(text).map((p) => [p.path, p.message])).toEqual([
      ['Resources.S.Properties.AvailabilityZone.Fn::Select.0', 'expected an index of 0 or more, got the number -1'],
      ['Resources.S.Properties.CidrBlock.Fn::Select.1.Fn::Cidr.1', 'a /24 block holds 2 subnets of /25, not 4'],
      ['Resources.S.Properties.Ipv6CidrBlock.Fn::Select.1.Fn::Cidr.0', '"10.0.0.300/16" is not a CIDR block such as 10.0.0.0/16'],
      ['Resources.S.Properties.Ipv6CidrBlock.Fn::Select.1.Fn::Cidr.1', 'expected a count of subnets from 1 to 256, got the number 0'],
      ['Resources.Vpc.Properties.CidrBlock.Fn::Select.0', 'index 3 is past the end of a list of 2'],
    ]);
  });

  it('accepts custom resources, modules and third-party types as unchecked notices', () => {
    const text = `Resources:\n  A:\n    Type: Custom::Thing\n    Properties: {ServiceToken: arn, Anything: 1}\n  B:\n    Type: AWS::CloudFormation::CustomResource\n    Properties: {ServiceToken: arn}\n  C:\n    Type: MyOrg::Network::Vpc::MODULE\n  D:\n    Type: MyOrg::Storage::Thing\n    Properties: {Whatever: true}\nOutputs:\n  X: {Value: !GetAtt A.Whatever}\n  Y: {Value: !GetAtt B.Anything}\n`;
    const found = findings(text);
    expect(found.filter((p) => !p.severity)).toEqual([]);
    expect(found.map((p) => [p.path, p.severity])).toEqual([
      ['Resources.A.Type', 'notice'],
      ['Resources.B.Type', 'notice'],
      ['Resources.C.Type', 'notice'],
      ['Resources.D.Type', 'notice'],
    ]);
    expect(found[3]!.message).toMatch(/not in the official schemas .* not checked/);
  });

  it('warns about a deprecated Lambda runtime without failing', () => {
    const text = `Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument: {}\n  F:\n    Type: AWS::Lambda::Function\n    Properties:\n      Runtime: python2.7\n      Handler: index.handler\n      Role: !GetAtt Role.Arn\n      Code: {ZipFile: "pass"}\n`;
    expect(findings(text)).toEqual([expect.objectContaining({ path: 'Resources.F.Properties.Runtime', severity: 'warning', line: 9 })]);
  });

  it('turns errors into warnings in a template a macro may rewrite', () => {
    const text = `Transform: MyMacro\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {VisibilityTimout: 3}\n`;
    const found = findings(text);
    expect(found.map((p) => p.severity)).toEqual(['warning', 'notice']);
  });

  it('reports unknown template sections and resource attributes with a suggestion', () => {
    const text = `Resource: {}\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    DeletionPolice: Retain\n    DeletionPolicy: Keep\n`;
    expect(errors(text).map((p) => [p.path, p.message])).toEqual([
      ['Resource', 'is not a template section; did you mean Resources?'],
      ['Resources.Q.DeletionPolice', expect.stringMatching(/^is not a resource attribute; did you mean DeletionPolicy\?/)],
      ['Resources.Q.DeletionPolicy', 'is "Keep"; expected one of Delete, Retain, RetainExceptOnCreate, Snapshot'],
    ]);
  });

  it.each(['language-extensions.yaml', 'sam-globals.yaml', 'rules.yaml'])('accepts %s, valid CloudFormation, with no errors', (name) => {
    expect(errors(fixture(`checks/${name}`))).toEqual([]);
  });

  it('says Fn::ForEach, Fn::Length, Fn::ToJsonString, FindInMap defaults and intrinsic policies need AWS::LanguageExtensions', () => {
    const text = fixture('checks/language-extensions.yaml').replace('Transform: AWS::LanguageExtensions\n', '');
    const found = errors(text);
    expect(found.map((p) => p.path)).toEqual([
      'Conditions.HasTopics.Fn::Not.0.Fn::Equals.0.Fn::Length',
      'Resources.Dashboard.Properties.DashboardBody.Fn::ToJsonString',
      'Resources.Fn::ForEach::Topics',
      'Outputs.Fn::ForEach::TopicArns',
    ]);
    expect(new Set(found.map((p) => p.message))).toEqual(new Set(['needs `Transform: AWS::LanguageExtensions`']));
    const plain = `Mappings:\n  M: {a: {b: 1}}\nParameters:\n  P: {Type: String}\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    DeletionPolicy: !Ref P\n    Properties:\n      DelaySeconds: !FindInMap [M, a, c, {DefaultValue: 0}]\n`;
    expect(errors(plain).map((p) => [p.path, p.message])).toEqual([
      ['Resources.Q.DeletionPolicy', 'expected one of Delete, Retain, RetainExceptOnCreate, Snapshot (an intrinsic function here needs `Transform: AWS::LanguageExtensions`)'],
      ['Resources.Q.Properties.DelaySeconds.Fn::FindInMap.3', 'a default value needs `Transform: AWS::LanguageExtensions`'],
    ]);
  });

  it('refuses SAM Globals without the SAM transform', () => {
    const found = errors(fixture('checks/sam-globals.yaml').replace('Transform: AWS::Serverless-2016-10-31\n', ''));
    expect(found[0]).toMatchObject({ path: 'Globals', line: 3, message: 'is not a template section; Globals needs `Transform: AWS::Serverless-2016-10-31`' });
  });

  it('checks SAM resources against their schema and takes names the transform adds as warnings', () => {
    const text = fixture('checks/sam-globals.yaml').replace('CodeUri: src/', 'CodeUrl: src/');
    expect(errors(text)).toEqual([expect.objectContaining({ path: 'Resources.Orders.Properties.CodeUrl', message: expect.stringMatching(/did you mean CodeUri\?/) })]);
    const missing = fixture('checks/sam-globals.yaml').replace('!GetAtt OrdersRole.Arn', '!GetAtt Nothing.Arn');
    expect(findings(missing)).toEqual([expect.objectContaining({ severity: 'warning', message: expect.stringMatching(/names "Nothing", which is not a resource of this template.*unless a transform adds it/) })]);
  });

  it('reports parameter types, defaults, logical ids and quotas CloudFormation refuses', () => {
    const resources = Array.from({ length: 501 }, (_, i) => `  T${i}: {Type: AWS::SNS::Topic}`).join('\n');
    const text = `Parameters:\n  Size: {Type: Strin, Default: a}\n  Count: {Type: Number, Default: many}\n  Tier: {Type: String, AllowedValues: [small, large], Default: huge}\n  Ok: {Type: List<AWS::EC2::Subnet::Id>}\n  Ssm: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /a/b}\nResources:\n  my-topic: {Type: AWS::SNS::Topic}\n${resources}\n`;
    expect(errors(text).map((p) => [p.path, p.message])).toEqual([
      ['Resources', 'has 502 entries; CloudFormation allows at most 500'],
      ['Resources.my-topic', 'is not a valid logical id: use letters and digits only (A-Z, a-z, 0-9), at most 255'],
      ['Parameters.Count.Default', 'is the string "many"; a Number parameter needs a number'],
      ['Parameters.Size.Type', 'is "Strin", not a parameter type; did you mean String?'],
      ['Parameters.Tier.Default', 'is the string "huge", which is not one of its AllowedValues (small, large)'],
    ]);
  });

  it('reports resources that depend on each other in a circle, through Ref, GetAtt, Sub and DependsOn', () => {
    const text = `Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties: {DisplayName: !Ref B}\n  B:\n    Type: AWS::SNS::Topic\n    Properties: {DisplayName: !Sub '\${C.TopicName}'}\n  C:\n    Type: AWS::SNS::Topic\n    DependsOn: A\n  D:\n    Type: AWS::SNS::Topic\n    Properties: {DisplayName: !GetAtt A.TopicName}\n`;
    expect(errors(text)).toEqual([
      expect.objectContaining({ path: 'Resources.A', line: 2, message: 'is in a circular dependency: A → B → C → A; CloudFormation cannot order these resources' }),
    ]);
  });
});
