/**
 * S3Approvals, over aws-sdk-client-mock: a decision is written under cairn/approvals/ keyed by
 * source, stack and change set; a missing one reads as none; only a well-formed decision about
 * that very change set counts.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { approvalKey, S3Approvals } from '../../lib/adapters/s3-approvals.js';
import type { Approval } from '../../lib/ports/approvals.js';

const approval: Approval = { source: 'platform', stack: 'app', changeSetName: 'cairn-abc-new', commit: 'a'.repeat(40), decision: 'approved', by: 'ana', at: '2026-12-02T10:00:00.000Z' };
// The part of the SDK's streaming body the store reads.
const body = (text: string) => ({ transformToString: async () => text }) as never;

describe('Adapters: S3Approvals', () => {
  it('writes a decision under its key and reads it back', async () => {
    const s3 = mockClient(S3Client);
    s3.on(PutObjectCommand).resolves({});
    const store = new S3Approvals({ bucket: 'cairn-bucket', client: new S3Client({ region: 'eu-west-1' }) });
    await store.put(approval);
    const put = s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect([put.Bucket, put.Key]).toEqual(['cairn-bucket', 'cairn/approvals/platform/app/cairn-abc-new.json']);
    expect(JSON.parse(String(put.Body))).toEqual(approval);
    s3.on(GetObjectCommand, { Key: approvalKey('platform', 'app', 'cairn-abc-new') }).resolves({ Body: body(String(put.Body)) });
    expect(await store.get('platform', 'app', 'cairn-abc-new')).toEqual(approval);
  });

  it('reads a missing, malformed or mismatched object as no decision', async () => {
    const s3 = mockClient(S3Client);
    const store = new S3Approvals({ bucket: 'b', client: new S3Client({ region: 'eu-west-1' }) });
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' }));
    expect(await store.get('platform', 'app', 'x')).toBeUndefined();
    s3.on(GetObjectCommand).resolves({ Body: body('{not json') });
    expect(await store.get('platform', 'app', 'x')).toBeUndefined();
    // A decision about another change set, copied under this key, does not approve this one.
    s3.on(GetObjectCommand).resolves({ Body: body(JSON.stringify(approval)) });
    expect(await store.get('platform', 'app', 'cairn-other-new')).toBeUndefined();
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    await expect(store.get('platform', 'app', 'x')).rejects.toThrow('Access Denied');
  });
});
