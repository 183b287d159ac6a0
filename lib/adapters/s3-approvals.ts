/**
 * Approvals as objects in the deployment's bucket (`cairn/approvals/<source>/<stack>/<change
 * set>.json`), so they survive cold starts and are shared by every container of the reconcile
 * function. A person writes them with `cairn approve --target aws` (the bucket policy lets the
 * reconcile role read them but never write them); the reconciler only reads.
 */
// Loaded on the first approval read, not at import: most reconciles never need one.
import type { S3Client } from '@aws-sdk/client-s3';
import type { Approval, ApprovalStore } from '../ports/approvals.js';

export const APPROVALS_PREFIX = 'cairn/approvals/';

const safe = (s: string): string => encodeURIComponent(s);

export function approvalKey(source: string, stack: string, changeSetName: string): string {
  return `${APPROVALS_PREFIX}${safe(source)}/${safe(stack)}/${safe(changeSetName)}.json`;
}

export class S3Approvals implements ApprovalStore {
  private client: S3Client | undefined;

  constructor(private readonly options: { bucket: string; client?: S3Client; region?: string }) {
    this.client = options.client;
  }

  private clientOf(Client: typeof S3Client): S3Client {
    return (this.client ??= new Client(this.options.region ? { region: this.options.region } : {}));
  }

  async get(source: string, stack: string, changeSetName: string): Promise<Approval | undefined> {
    const { GetObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
    let text: string;
    try {
      const out = await this.clientOf(S3Client).send(new GetObjectCommand({ Bucket: this.options.bucket, Key: approvalKey(source, stack, changeSetName) }));
      text = (await out.Body?.transformToString('utf8')) ?? '';
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'NoSuchKey' || name === 'NotFound') return undefined;
      throw error;
    }
    try {
      const a = JSON.parse(text) as Partial<Approval>;
      // Only a well-formed decision about this very change set counts.
      const ok =
        a.source === source && a.stack === stack && a.changeSetName === changeSetName && (a.decision === 'approved' || a.decision === 'rejected') && typeof a.commit === 'string' && typeof a.by === 'string' && typeof a.at === 'string';
      return ok ? (a as Approval) : undefined;
    } catch {
      return undefined;
    }
  }

  async put(approval: Approval): Promise<void> {
    const { PutObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
    await this.clientOf(S3Client).send(
      new PutObjectCommand({
        Bucket: this.options.bucket,
        Key: approvalKey(approval.source, approval.stack, approval.changeSetName),
        Body: `${JSON.stringify(approval, null, 2)}\n`,
        ContentType: 'application/json',
      }),
    );
  }
}
