/**
 * The account store on its own: private copies per transaction, incremental reloads from the
 * journal, and readers that survive the journal being compacted under them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AccountStore } from '../../../lib/adapters/embedded-account/account-store.js';
import type { StackRecord } from '../../../lib/adapters/embedded-account/stack-record.js';
import { tempHome } from './helpers.js';

function record(stackName: string, status = 'CREATE_COMPLETE'): StackRecord {
  return {
    stackId: `arn:aws:cloudformation:us-east-1:123456789012:stack/${stackName}/id`,
    stackName,
    region: 'us-east-1',
    createdAt: 0,
    terminationProtection: false,
    state: { status, templateBody: '{}', parameters: {}, noEcho: [], tags: {}, outputs: {}, exports: {}, resources: {}, capabilities: [] },
    events: [],
    nextSeq: 1,
    changeSets: [],
    detections: [],
  };
}

describe('AccountStore', () => {
  it('writes nothing when a transaction throws, and hands out private copies', () => {
    const store = new AccountStore(tempHome());
    store.transaction((tx) => tx.put(record('app')));
    expect(() =>
      store.transaction((tx) => {
        const copy = tx.get('us-east-1', 'app')!;
        copy.state.status = 'DELETE_FAILED';
        tx.put(copy);
        throw new Error('changed my mind');
      }),
    ).toThrow('changed my mind');
    expect(store.get('us-east-1', 'app')?.state.status).toBe('CREATE_COMPLETE');
  });

  it('reloads only what the journal names, and everything after the journal is compacted', () => {
    const home = tempHome();
    const writer = new AccountStore(home, { compactAtBytes: 600 });
    const reader = new AccountStore(home);
    reader.refresh();
    writer.transaction((tx) => tx.put(record('a')));
    reader.refresh();
    const first = reader.get('us-east-1', 'a');
    expect(first?.state.status).toBe('CREATE_COMPLETE');

    writer.transaction((tx) => tx.put(record('b')));
    reader.refresh();
    expect(reader.get('us-east-1', 'a')).toBe(first);
    expect(reader.list('us-east-1').map((r) => r.stackName).sort()).toEqual(['a', 'b']);

    for (let i = 0; i < 10; i++) writer.transaction((tx) => tx.setMeta({ skewMs: i }));
    writer.transaction((tx) => tx.put(record('a', 'UPDATE_COMPLETE')));
    const journal = readFileSync(path.join(home, 'embedded-account', 'journal.log'), 'utf8');
    expect(journal.trim().split('\n').length).toBeLessThan(13);
    reader.refresh();
    expect(reader.currentMeta()).toMatchObject({ seq: writer.currentMeta().seq, skewMs: 9 });
    expect(reader.get('us-east-1', 'a')?.state.status).toBe('UPDATE_COMPLETE');
    expect(reader.get('us-east-1', 'b')).toBeDefined();
  });
});
