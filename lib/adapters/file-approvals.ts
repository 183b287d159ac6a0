/**
 * Approvals as JSON files under a directory (the embedded home's `approvals/`), one per source,
 * stack and change set, written atomically (a temporary file renamed), so `cairn approve` and a
 * running `cairn serve` share them; beside them each stack's approval state (`_state.json`).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validState, type Approval, type ApprovalState, type ApprovalStore } from '../ports/approvals.js';

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
    this.write(approval.source, approval.stack, this.path(approval.source, approval.stack, approval.changeSetName), approval);
  }

  async getState(source: string, stack: string): Promise<ApprovalState | undefined> {
    try {
      return validState(JSON.parse(readFileSync(this.statePath(source, stack), 'utf8')), source, stack);
    } catch {
      return undefined;
    }
  }

  async putState(state: ApprovalState): Promise<void> {
    this.write(state.source, state.stack, this.statePath(state.source, state.stack), state);
  }

  /** Change set names start with a letter, so `_state` is never one of them. */
  private statePath(source: string, stack: string): string {
    return join(this.dir, safe(source), safe(stack), '_state.json');
  }

  private write(source: string, stack: string, file: string, value: unknown): void {
    mkdirSync(join(this.dir, safe(source), safe(stack)), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
    renameSync(tmp, file);
  }
}
