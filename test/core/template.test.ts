import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_TEMPLATE_BYTES, parseTemplate } from '../../lib/core/template.js';
import { formatProblem } from '../../lib/core/errors.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/templates/${name}`, import.meta.url), 'utf8');

function parsed(text: string, file = 't.yaml') {
  const r = parseTemplate(text, file);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.value;
}

describe('Core: template canonicalisation', () => {
  it('reads a YAML template using every short-form tag equal to its long-form JSON twin', () => {
    const yaml = parsed(fixture('every-tag.yaml'));
    const json = parsed(fixture('every-tag.json'), 't.json');
    expect(yaml.template).toEqual(json.template);
    expect(yaml.hash).toBe(json.hash);
    expect(yaml.body).toBe(json.body);
  });

  it.each([
    ['!Ref', 'A: !Ref X', { A: { Ref: 'X' } }],
    ['!Sub string form', 'A: !Sub "a-${X}"', { A: { 'Fn::Sub': 'a-${X}' } }],
    ['!Sub list form', 'A: !Sub ["${a}", {a: b}]', { A: { 'Fn::Sub': ['${a}', { a: 'b' }] } }],
    ['!GetAtt dotted form', 'A: !GetAtt R.Arn', { A: { 'Fn::GetAtt': ['R', 'Arn'] } }],
    ['!GetAtt dotted attribute with dots', 'A: !GetAtt R.Endpoint.Address', { A: { 'Fn::GetAtt': ['R', 'Endpoint.Address'] } }],
    ['!GetAtt list form', 'A: !GetAtt [R, Arn]', { A: { 'Fn::GetAtt': ['R', 'Arn'] } }],
    ['!Join', 'A: !Join [",", [a, b]]', { A: { 'Fn::Join': [',', ['a', 'b']] } }],
    ['!Select', 'A: !Select [0, [a]]', { A: { 'Fn::Select': [0, ['a']] } }],
    ['!Split', 'A: !Split [",", "a,b"]', { A: { 'Fn::Split': [',', 'a,b'] } }],
    ['!If', 'A: !If [C, a, b]', { A: { 'Fn::If': ['C', 'a', 'b'] } }],
    ['!Equals', 'A: !Equals [a, b]', { A: { 'Fn::Equals': ['a', 'b'] } }],
    ['!And', 'A: !And [!Condition C, !Condition D]', { A: { 'Fn::And': [{ Condition: 'C' }, { Condition: 'D' }] } }],
    ['!Or', 'A: !Or [!Condition C, !Condition D]', { A: { 'Fn::Or': [{ Condition: 'C' }, { Condition: 'D' }] } }],
    ['!Not', 'A: !Not [!Condition C]', { A: { 'Fn::Not': [{ Condition: 'C' }] } }],
    ['!FindInMap', 'A: !FindInMap [M, k, v]', { A: { 'Fn::FindInMap': ['M', 'k', 'v'] } }],
    ['!Base64', 'A: !Base64 abc', { A: { 'Fn::Base64': 'abc' } }],
    ['!Cidr', 'A: !Cidr [10.0.0.0/16, 2, 8]', { A: { 'Fn::Cidr': ['10.0.0.0/16', 2, 8] } }],
    ['!ImportValue', 'A: !ImportValue shared', { A: { 'Fn::ImportValue': 'shared' } }],
    ['!GetAZs', 'A: !GetAZs ""', { A: { 'Fn::GetAZs': '' } }],
    ['!Condition', 'A: !Condition C', { A: { Condition: 'C' } }],
    ['!Transform', 'A: !Transform {Name: X, Parameters: {}}', { A: { 'Fn::Transform': { Name: 'X', Parameters: {} } } }],
    ['!Contains (Rules)', 'A: !Contains [[a, b], !Ref P]', { A: { 'Fn::Contains': [['a', 'b'], { Ref: 'P' }] } }],
    ['!EachMemberEquals (Rules)', 'A: !EachMemberEquals [!RefAll "AWS::EC2::VPC::Id", v]', { A: { 'Fn::EachMemberEquals': [{ 'Fn::RefAll': 'AWS::EC2::VPC::Id' }, 'v'] } }],
    ['!EachMemberIn (Rules)', 'A: !EachMemberIn [!ValueOfAll [T, VpcId], [v]]', { A: { 'Fn::EachMemberIn': [{ 'Fn::ValueOfAll': ['T', 'VpcId'] }, ['v']] } }],
    ['!ValueOf (Rules)', 'A: !ValueOf [P, Tags]', { A: { 'Fn::ValueOf': ['P', 'Tags'] } }],
    ['!Length (AWS::LanguageExtensions)', 'A: !Length [a, b]', { A: { 'Fn::Length': ['a', 'b'] } }],
    ['!ToJsonString (AWS::LanguageExtensions)', 'A: !ToJsonString {a: 1}', { A: { 'Fn::ToJsonString': { a: 1 } } }],
  ])('expands %s to its long form', (_name, snippet, expected) => {
    const t = parsed(`Resources:\n  R:\n    Type: AWS::SNS::Topic\n    Metadata:\n      ${snippet}\n`);
    expect((t.template['Resources'] as Record<string, { Metadata: unknown }>)['R']!.Metadata).toEqual(expected);
  });

  it('hashes a reformatted template with reordered keys the same', () => {
    const a = parsed('Resources:\n  B: {Type: AWS::SNS::Topic, Properties: {TopicName: x, DisplayName: y}}\n  A: {Type: AWS::SQS::Queue}\n');
    const b = parsed('# a comment\nResources:\n  A:\n    Type: AWS::SQS::Queue\n  B:\n    Properties:\n      DisplayName: y\n      TopicName: x\n    Type: AWS::SNS::Topic\n');
    expect(a.hash).toBe(b.hash);
  });

  it('hashes a template with one changed value differently', () => {
    const a = parsed('Resources:\n  A: {Type: AWS::SNS::Topic, Properties: {TopicName: x}}\n');
    const b = parsed('Resources:\n  A: {Type: AWS::SNS::Topic, Properties: {TopicName: y}}\n');
    expect(a.hash).not.toBe(b.hash);
  });

  it('lists the parameters a template declares and whether each has a default', () => {
    const t = parsed('Parameters:\n  A: {Type: String}\n  B: {Type: Number, Default: 3}\nResources:\n  R: {Type: AWS::SNS::Topic}\n');
    expect(t.parameters).toEqual({ A: { type: 'String', hasDefault: false }, B: { type: 'Number', hasDefault: true } });
  });

  it.each([
    ['text that is neither JSON nor YAML', 'Resources: [unclosed', /not valid YAML/],
    ['broken JSON', '{"Resources": {', /not valid (JSON|YAML)/],
    ['a template without Resources', 'Description: nothing\n', /Resources.*missing or empty/],
    ['a resource without a Type', 'Resources:\n  A: {Properties: {}}\n', /Resources\.A\.Type.*missing/],
    ['a tag CloudFormation does not have', 'Resources:\n  A: {Type: !Bogus x}\n', /no such short-form tag/],
    ['duplicate keys', 'Resources:\n  A: {Type: AWS::SNS::Topic}\n  A: {Type: AWS::SNS::Topic}\n', /unique/],
    ['a list at the top', '- a\n- b\n', /expected a mapping/],
    ['an empty file', '   \n', /is empty/],
  ])('rejects %s with a problem naming the file', (_name, text, message) => {
    const r = parseTemplate(text, 'stacks/bad.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems[0]!.file).toBe('stacks/bad.yaml');
    expect(r.problems.map((p) => `${p.path} ${p.message}`).join('\n')).toMatch(message);
  });

  it('gives the line of a YAML syntax error', () => {
    const r = parseTemplate('Resources:\n  A:\n    Type: [x\n', 'stacks/bad.yaml');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]!.line).toBeGreaterThanOrEqual(3);
  });

  it('gives the line and column of a YAML syntax error and of a repeated key, as file:line:column', () => {
    const bad = parseTemplate('Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {VisibilityTimeout: [30}\n', 'stacks/app.yaml');
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.problems[0]).toMatchObject({ line: 4, column: 40 });
      expect(formatProblem(bad.problems[0]!)).toMatch(/^stacks\/app\.yaml:4:40: is not valid YAML: /);
    }
    const repeated = parseTemplate('Resources:\n  A: {Type: AWS::SNS::Topic}\n  A: {Type: AWS::SNS::Topic}\n', 'stacks/app.yaml');
    expect(repeated.ok).toBe(false);
    if (!repeated.ok) expect(repeated.problems[0]).toMatchObject({ line: 3, column: 3 });
  });

  it('rejects a template over 1 MB', () => {
    const big = `Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Metadata: {x: "${'a'.repeat(MAX_TEMPLATE_BYTES)}"}\n`;
    const r = parseTemplate(big, 'stacks/big.yaml');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]!.message).toMatch(/1048576 bytes \(1 MB\)/);
  });
});
