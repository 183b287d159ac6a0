/**
 * The embedded (simulated) CloudFormation account: what the CLI, `cairn serve` and tests import.
 */
export {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_REGION,
  EmbeddedAccount,
  NO_CHANGES_REASON,
  type DriftInjectionInput,
  type EmbeddedAccountOptions,
  type FaultOperation,
  type FaultSettings,
  type ForceStatusInput,
  type OutsideCreateInput,
  type OutsideUpdateInput,
  type ResourceDeletionInput,
  type StackStatusEvent,
  type StackStatusListener,
} from './embedded-account.js';
export { Faults } from './faults.js';
