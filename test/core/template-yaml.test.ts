/**
 * The two YAML parsers side by side: every real template in the repository (test fixtures,
 * examples/, and the CDK bootstrap template aws-cdk ships) and a generated set of every
 * short-form tag in each node kind, nested, and the scalars YAML versions read differently, read by
 * the fast path (js-yaml, lib/core/fast-yaml.ts) and by the `yaml` package, must give the same
 * value and the same canonical template; and a broken template is reported with the line `yaml`
 * names, whichever parser read it first.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fastSchema, loadFast } from '../../lib/core/fast-yaml.js';
import { CFN_TAGS, parseTemplate, parseWithYamlPackage } from '../../lib/core/template.js';
import { EDGE_SCALARS, TAG_NAMES } from '../properties/yaml-texts.js';

const schema = fastSchema(CFN_TAGS);
const FILE = 'stacks/app.yaml';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const REAL = [
  ...filesUnder('test/fixtures/templates'),
  ...filesUnder('examples'),
  ...['node_modules/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml'].filter((p) => existsSync(p)),
].filter((p) => /\.(ya?ml|json|template)$/.test(p));

/** The value `yaml` gives, or a failure if it rejects the text. */
function byYaml(text: string): unknown {
  const r = parseWithYamlPackage(text, FILE);
  if (!r.ok) throw new Error(`yaml rejected the text: ${JSON.stringify(r.problems)}`);
  return r.value;
}

/** Both parsers agree on `text`, and the fast path took it (it is not just yaml twice). */
function expectSameReading(text: string): void {
  const fast = loadFast(text, schema, 1002);
  expect(fast, `the fast path declined:\n${text}`).toBeDefined();
  expect(isDeepStrictEqual(fast!.value, byYaml(text)), text).toBe(true);
}

describe('Function: parseTemplate, js-yaml against yaml', () => {
  it('reads every real template as yaml does, through the fast path', () => {
    expect(REAL.length).toBeGreaterThan(10);
    for (const path of REAL.filter((p) => !p.endsWith('.json'))) expectSameReading(readFileSync(path, 'utf8'));
  });

  it('gives every real template the canonical body yaml would', () => {
    const templates = REAL.filter((p) => !/cairn\.yaml$|\/deploy\//.test(p));
    expect(templates.length).toBeGreaterThan(8);
    for (const path of templates) {
      const text = readFileSync(path, 'utf8');
      const parsed = parseTemplate(text, path);
      if (!parsed.ok) throw new Error(`${path}: ${JSON.stringify(parsed.problems)}`);
      // The body of what yaml reads, written as JSON: parsing that must give the same body.
      const viaYaml = parseTemplate(JSON.stringify(path.endsWith('.json') ? JSON.parse(text) : byYaml(text)), path);
      expect(viaYaml.ok && viaYaml.value.body, path).toBe(parsed.value.body);
    }
  });

  it('reads every short-form tag on a scalar, a sequence and a mapping, nested, as yaml does', () => {
    for (const name of TAG_NAMES) {
      expectSameReading(`A: !${name} x.y\nB: !${name} [a, !Ref b]\nC: !${name} {k: !GetAtt R.Arn}\n`);
      expectSameReading(`A: !${name} 'quoted'\nB: !${name}\n  - !If [c, !Ref x, !Sub "\${y}"]\n  - 12\nC: !${name}\n  k: !Join ['', [a, !Ref b]]\n`);
      expectSameReading(`A: !${name} |\n  line one\n  line two\nB: !${name} >-\n  folded\n  text\n`);
    }
  });

  it('reads the scalars YAML 1.1 and 1.2 tell apart as yaml does (1.2: yes is a string, 0755 is 755)', () => {
    const lines = EDGE_SCALARS.filter((s) => s !== '' && !/^[-?:&*!|>'"%@`#]|: | #/.test(s)).map((s, i) => `k${i}: ${s}`);
    const text = `${lines.join('\n')}\n`;
    expectSameReading(text);
    const value = byYaml(text) as Record<string, unknown>;
    const at = (s: string): unknown => value[`k${EDGE_SCALARS.filter((x) => x !== '' && !/^[-?:&*!|>'"%@`#]|: | #/.test(x)).indexOf(s)}`];
    expect(at('yes')).toBe('yes');
    expect(at('0755')).toBe(755);
    expect(at('0o17')).toBe(15);
    expect(at('0x1F')).toBe(31);
    expect(at('.inf')).toBe(Infinity);
    expect(at('2002-12-14')).toBe('2002-12-14');
    expect(at('True')).toBe(true);
    expect(at('1_000')).toBe('1_000');
  });

  it('leaves to yaml what js-yaml would read otherwise, with the same result', () => {
    const declined = [
      'a: &x [1, 2]\nb: *x\n',
      '%YAML 1.1\n---\na: yes\n',
      '? [a, b]\n: c\n',
      '[a, b]: c\n',
      'null: a\n',
      '~: a\n',
      'a: [b,\nc]\n',
      'a: "b\nc"\n',
      '- - x\n  -\n- y\n',
      'a: !Ref\n',
      'a: !Ref\n  null\n',
      'a: !GetAtt\n  .NAN\n',
      '- !Not\n  - x\n  -\n- y\n',
    ];
    for (const text of declined) {
      expect(loadFast(text, schema, 1002), text).toBeUndefined();
      const r = parseTemplate(`Resources: {A: {Type: X}}\nMetadata:\n${text.replace(/^/gm, '  ')}`, FILE);
      const y = parseWithYamlPackage(`Resources: {A: {Type: X}}\nMetadata:\n${text.replace(/^/gm, '  ')}`, FILE);
      expect(r.ok, text).toBe(y.ok);
    }
  });

  it('reports a broken template with the line yaml names', () => {
    const cases: [string, number, RegExp][] = [
      ['Resources:\n  Q:\n    Type: AWS::SQS::Queue\n  Q:\n    Type: AWS::SNS::Topic\n', 4, /Map keys must be unique; "Q" appears more than once/],
      ['Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub "x\n', 6, /Missing closing "quote/],
      ['Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Bogus x\n', 5, /Unresolved tag: !Bogus \(CloudFormation has no such short-form tag\)/],
      ['Resources:\n  Q:\n    Type: AWS::SQS::Queue\n   Properties: {}\n', 4, /not valid YAML/],
      ['Resources:\n  Q:\n    Type: [a,\n    b]\n', 4, /Flow sequence in block collection must be sufficiently indented/],
    ];
    for (const [text, line, message] of cases) {
      const r = parseTemplate(text, FILE);
      expect(r.ok, text).toBe(false);
      if (r.ok) continue;
      expect(r.problems[0]!.file).toBe(FILE);
      expect(r.problems[0]!.line, text).toBe(line);
      expect(r.problems[0]!.message, text).toMatch(message);
      // The same problems as yaml alone gives.
      const y = parseWithYamlPackage(text, FILE);
      expect(y.ok ? [] : y.problems).toEqual(r.problems);
    }
  });
});
