/**
 * Approvals as JSON files under a directory (the embedded home's `approvals/`), one per source,
 * stack and change set, written atomically (a temporary file renamed), so `cairn approve` and a
 * running `cairn serve` share them.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Approval, ApprovalStore } from '../ports/approvals.js';

const safe = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, '_');

export class FileApprovals implements ApprovalStore {
  constructor(private readonly dir: string) {}

  private path(source: string, stack: string, changeSetName: string): string {
    return join(this.dir, safe(source), safe(stack), `${safe(changeSetName)}.json`);
  }

  async get(source: string, stack: string, changeSetName: string): Promise<Approval | undefined> {
    try {
      const value = JSON.parse(readFileSync(this.path(source, stack, changeSetName), 'utf8')) as Approval;
      return value.changeSetName === changeSetName && value.stack === stack && value.source === source ? value : undefined;
    } catch {
      return undefined;
    }
  }

  async put(approval: Approval): Promise<void> {
    const file = this.path(approval.source, approval.stack, approval.changeSetName);
    mkdirSync(join(this.dir, safe(approval.source), safe(approval.stack)), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(approval, null, 2)}\n`);
    renameSync(tmp, file);
  }
}
