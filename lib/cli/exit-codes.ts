/**
 * Exit codes scripts can rely on. `plan` and `status` use CHANGES when the account differs from
 * the repository; `status` uses ATTENTION when a person must look: a failed, rolled-back or
 * blocked stack, drift, or a repository that is not valid at the commit.
 */
export const EXIT = {
  ok: 0,
  error: 1,
  changes: 2,
  attention: 3,
} as const;
