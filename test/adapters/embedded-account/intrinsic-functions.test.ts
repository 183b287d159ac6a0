/**
 * The intrinsic-function evaluator of the embedded account, table-driven against a fixed context.
 */
import { describe, expect, it } from 'vitest';
import {
  cidrBlocks,
  containsUnknown,
  evaluate,
  scanReferences,
  unknownValue,
  type IntrinsicContext,
} from '../../../lib/adapters/embedded-account/intrinsic-functions.js';
import { parseTemplate, TemplateError } from '../../../lib/adapters/embedded-account/template-document.js';

const ctx: IntrinsicContext = {
  region: 'eu-west-1',
  ref: (name) => {
    const values: Record<string, unknown> = {
      Env: 'prod',
      Subnets: ['subnet-a', 'subnet-b'],
      'AWS::Region': 'eu-west-1',
      'AWS::StackName': 'app',
      Bucket: 'app-bucket-x',
    };
    if (!(name in values)) throw new TemplateError(`unresolved ${name}`);
    return values[name];
  },
  getAtt: (id, attribute) => `${id}.${attribute}`,
  condition: (name) => name === 'IsProd',
  mapping: (map, top, second) => ({ Sizes: { prod: { Instance: 'large' } } } as Record<string, Record<string, Record<string, unknown>>>)[map]![top]![second],
  importValue: (name) => `imported:${name}`,
};

describe('Intrinsic functions', () => {
  it.each<[string, unknown, unknown]>([
    ['Ref to a parameter', { Ref: 'Env' }, 'prod'],
    ['Fn::Sub with pseudo parameters and attributes', { 'Fn::Sub': '${AWS::StackName}-${Env}-${Bucket.Arn}-${!Literal}' }, 'app-prod-Bucket.Arn-${Literal}'],
    ['Fn::Sub with a variable map', { 'Fn::Sub': ['${Name}.${Env}', { Name: { Ref: 'Bucket' } }] }, 'app-bucket-x.prod'],
    ['Fn::Join over a list parameter', { 'Fn::Join': [',', { Ref: 'Subnets' }] }, 'subnet-a,subnet-b'],
    ['Fn::Select', { 'Fn::Select': ['1', { Ref: 'Subnets' }] }, 'subnet-b'],
    ['Fn::Split', { 'Fn::Split': ['|', 'a|b|c'] }, ['a', 'b', 'c']],
    ['Fn::If taking the true branch', { 'Fn::If': ['IsProd', 'big', 'small'] }, 'big'],
    ['Fn::If taking the false branch', { 'Fn::If': ['IsDev', 'big', 'small'] }, 'small'],
    ['Fn::Equals', { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] }, true],
    ['Fn::And', { 'Fn::And': [{ Condition: 'IsProd' }, { 'Fn::Equals': ['a', 'a'] }] }, true],
    ['Fn::Or', { 'Fn::Or': [{ Condition: 'IsDev' }, { 'Fn::Equals': ['a', 'b'] }] }, false],
    ['Fn::Not', { 'Fn::Not': [{ Condition: 'IsDev' }] }, true],
    ['Fn::FindInMap', { 'Fn::FindInMap': ['Sizes', { Ref: 'Env' }, 'Instance'] }, 'large'],
    ['Fn::Base64', { 'Fn::Base64': 'hello' }, 'aGVsbG8='],
    ['Fn::GetAZs of the current region', { 'Fn::GetAZs': '' }, ['eu-west-1a', 'eu-west-1b', 'eu-west-1c']],
    ['Fn::Cidr', { 'Fn::Cidr': ['10.0.0.0/16', 3, 8] }, ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24']],
    ['Fn::ImportValue', { 'Fn::ImportValue': { 'Fn::Sub': '${Env}-vpc' } }, 'imported:prod-vpc'],
    ['Fn::GetAtt in string form', { 'Fn::GetAtt': 'Db.Endpoint.Address' }, 'Db.Endpoint.Address'],
    ['AWS::NoValue dropping a property', { A: 1, B: { 'Fn::If': ['IsDev', 2, { Ref: 'AWS::NoValue' }] } }, { A: 1 }],
    ['AWS::NoValue dropping a list item', [1, { Ref: 'AWS::NoValue' }, 3], [1, 3]],
    ['an IAM Condition object untouched', { Condition: { StringEquals: { 'aws:x': 'y' } } }, { Condition: { StringEquals: { 'aws:x': 'y' } } }],
  ])('evaluates %s', (_name, node, expected) => {
    expect(evaluate(node, ctx)).toEqual(expected);
  });

  it('raises CloudFormation errors for bad arguments', () => {
    expect(() => evaluate({ 'Fn::Select': [5, ['a']] }, ctx)).toThrow('Fn::Select cannot select nonexistent value at index 5');
    expect(() => evaluate({ Ref: 'Nope' }, ctx)).toThrow(TemplateError);
    expect(() => cidrBlocks('10.0.0.0/24', 2, 8)).toThrow(TemplateError);
  });

  it('marks values that depend on resources not created yet', () => {
    const value = evaluate({ 'Fn::Join': ['-', ['x', unknownValue('Vpc')]] }, ctx);
    expect(containsUnknown(value)).toBe(true);
    expect(containsUnknown({ a: ['x'] })).toBe(false);
  });

  it('finds every reference statically, in every branch', () => {
    const refs = scanReferences({
      A: { 'Fn::If': ['Cond', { Ref: 'P' }, { 'Fn::GetAtt': ['R', 'Arn'] }] },
      B: { 'Fn::Sub': ['${X}-${Y.Name}-${Local}-${AWS::Region}', { Local: 'v' }] },
    });
    expect([...refs.refs].sort()).toEqual(['AWS::Region', 'P', 'X']);
    expect([...refs.getAtts].sort()).toEqual(['R', 'Y']);
    expect([...refs.conditions]).toEqual(['Cond']);
  });
});

describe('Template documents', () => {
  it('reads JSON and long-form YAML into sections', () => {
    const yaml = parseTemplate('Resources:\n  T:\n    Type: AWS::SNS::Topic\n');
    expect(yaml.resources['T']?.Type).toBe('AWS::SNS::Topic');
    expect(parseTemplate('{"Resources":{"T":{"Type":"AWS::SNS::Topic"}},"Transform":"X"}').hasTransform).toBe(true);
  });

  it.each([
    ['{"Resources": {}}', 'Template format error: At least one Resources member must be defined.'],
    ['{"Resources": {"T": {}}}', 'Template format error: [/Resources/T] Every Resources object must contain a Type member.'],
    ['{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}, "Extra": 1}', 'Template format error: Invalid template property or properties [Extra]'],
    ['Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      Name: !Ref X\n', 'long-form intrinsic functions only'],
  ])('rejects %s', (body, message) => {
    expect(() => parseTemplate(body)).toThrow(message);
  });
});
