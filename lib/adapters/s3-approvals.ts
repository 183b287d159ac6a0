/**
 * Approvals as objects in the deployment's bucket (`cairn/approvals/<source>/<stack>/<change
 * set>.json`), so they survive cold starts and are shared by every container of the reconcile
 * function. A person writes them with `cairn approve --target aws`, or the webhook function does for a
 * verified comment command (the bucket policy lets the reconcile role read them but never write
 * them); the reconciler only reads them, and writes each stack's approval state beside them.
 */
// Loaded on the first approval read, not at import: most reconciles never need one.
import type { S3Client } from '@aws-sdk/client-s3';
import { validState, type Approval, type ApprovalState, type ApprovalStore } from '../ports/approvals.js';

export const APPROVALS_PREFIX = 'cairn/approvals/';
/** Each stack's approval state, written by the reconcile role (outside APPROVALS_PREFIX, which it may not write). */
export const APPROVAL_STATE_PREFIX = 'cairn/approval-state/';

const safe = (s: string): string => encodeURIComponent(s);

export function approvalKey(source: string, stack: string, changeSetName: string): string {
  return `${APPROVALS_PREFIX}${safe(source)}/${safe(stack)}/${safe(changeSetName)}.json`;
}

export function stateKey(source: string, stack: string): string {
  return `${APPROVAL_STATE_PREFIX}${safe(source)}/${safe(stack)}.json`;
}

export class S3Approvals implements ApprovalStore {
  private client: S3Client | undefined;

  constructor(private readonly options: { bucket: string; client?: S3Client; region?: string }) {
    this.client = options.client;
  }

  private clientOf(Client: typeof S3Client): S3Client {
    return (this.client ??= new Client(this.options.region ? { region: this.options.region } : {}));
  }

  /** The object's text, or undefined when there is none. */
  private async read(key: string): Promise<string | undefined> {
    const { GetObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
    try {
      const out = await this.clientOf(S3Client).send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return (await out.Body?.transformToString('utf8')) ?? '';
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'NoSuchKey' || name === 'NotFound') return undefined;
      throw error;
    }
  }

  private async write(key: string, value: unknown): Promise<void> {
    const { PutObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
    await this.clientOf(S3Client).send(new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: `${JSON.stringify(value, null, 2)}\n`, ContentType: 'application/json' }));
  }

  async getState(source: string, stack: string): Promise<ApprovalState | undefined> {
    const text = await this.read(stateKey(source, stack));
    if (text === undefined) return undefined;
    try {
      return validState(JSON.parse(text), source, stack);
    } catch {
      return undefined;
    }
  }

  async putState(state: ApprovalState): Promise<void> {
    await this.write(stateKey(state.source, state.stack), state);
  }

  async get(source: string, stack: string, changeSetName: string): Promise<Approval | undefined> {
    const text = await this.read(approvalKey(source, stack, changeSetName));
    if (text === undefined) return undefined;
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
    await this.write(approvalKey(approval.source, approval.stack, approval.changeSetName), approval);
  }
}
