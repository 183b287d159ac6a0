import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TemplateCacheDir } from '../../lib/adapters/template-cache-dir.js';
import { analyseTemplate, cachedTemplate, type TemplateAnalysis } from '../../lib/core/template-cache.js';

const TEXT = 'Parameters:\n  P: {Type: String, Default: x}\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub "${P}-q"\n';
const BAD = 'Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {VisibilityTimeout: !Nope 1}\n';

describe('Adapter: template analyses on disk', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cairn-template-cache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives a later process the analysis an earlier one stored, equal to a fresh one', () => {
    new TemplateCacheDir({ dir, salt: 's' }).set('k', analyseTemplate(TEXT, 't.yaml'));
    new TemplateCacheDir({ dir, salt: 's' }).set('bad', analyseTemplate(BAD, 'bad.yaml'));
    const later = new TemplateCacheDir({ dir, salt: 's' });
    expect(later.get('k')).toEqual(analyseTemplate(TEXT, 't.yaml'));
    expect(later.get('bad')).toEqual(analyseTemplate(BAD, 'bad.yaml'));
    expect(cachedTemplate(TEXT, 't.yaml', later)).toEqual(cachedTemplate(TEXT, 't.yaml', new TemplateCacheDir({ dir: join(dir, 'empty'), salt: 's' })));
  });

  it('makes its directory again when it vanishes between two writes', () => {
    const store = new TemplateCacheDir({ dir, salt: 's' });
    store.set('k1', analyseTemplate(TEXT, 't.yaml'));
    rmSync(dir, { recursive: true, force: true });
    store.set('k2', analyseTemplate(TEXT, 't.yaml'));
    expect(new TemplateCacheDir({ dir, salt: 's' }).get('k2')).toEqual(analyseTemplate(TEXT, 't.yaml'));
  });

  it('leaves no temporary files behind', () => {
    const store = new TemplateCacheDir({ dir, salt: 's' });
    for (let i = 0; i < 5; i++) store.set(`k${i}`, analyseTemplate(TEXT, 't.yaml'));
    const names = readdirSync(dir);
    expect(names).toHaveLength(5);
    expect(names.every((n) => n.endsWith('.json'))).toBe(true);
  });

  it('never reads an entry of another build of Cairn', () => {
    new TemplateCacheDir({ dir, salt: 'old' }).set('k', analyseTemplate(TEXT, 't.yaml'));
    expect(new TemplateCacheDir({ dir, salt: 'new' }).get('k')).toBeUndefined();
  });

  it.each([
    ['cut short', (text: string) => text.slice(0, text.length / 2)],
    ['not JSON', () => 'garbage'],
    ['a body changed after it was hashed', (text: string) => text.replace('AWS::SQS::Queue', 'AWS::SNS::Topic')],
    ['another key', (text: string) => text.replace(/"key":"[0-9a-f]+"/, `"key":"${'0'.repeat(64)}"`)],
    ['empty', () => ''],
  ])('ignores an entry that is %s', (_, corrupt) => {
    const store = new TemplateCacheDir({ dir, salt: 's' });
    store.set('k', analyseTemplate(TEXT, 't.yaml'));
    const [name] = readdirSync(dir);
    const file = join(dir, name!);
    writeFileSync(file, corrupt(readFileSync(file, 'utf8')));
    expect(store.get('k')).toBeUndefined();
    // And the template is simply analysed again.
    expect(cachedTemplate(TEXT, 't.yaml', store)).toEqual(cachedTemplate(TEXT, 't.yaml', new TemplateCacheDir({ dir: join(dir, 'fresh'), salt: 's' })));
  });

  it('trims the directory to its bound, oldest entries first, when a process adds one', () => {
    const big: TemplateAnalysis = analyseTemplate(`${TEXT}Description: ${'x'.repeat(2000)}\n`, 't.yaml');
    const writer = new TemplateCacheDir({ dir, salt: 's', maxBytes: 1_000_000 });
    for (let i = 0; i < 40; i++) writer.set(`k${i}`, big);
    const names = readdirSync(dir);
    names.forEach((n, i) => utimesSync(join(dir, n), 1_000 + i, 1_000 + i));
    const oldest = names[0]!;
    const newest = names.at(-1)!;
    const small = new TemplateCacheDir({ dir, salt: 's', maxBytes: 40_000 });
    small.set('another', big);
    const left = readdirSync(dir);
    expect(left.length).toBeLessThan(20);
    expect(left).not.toContain(oldest);
    expect(left).toContain(newest);
  });
});
