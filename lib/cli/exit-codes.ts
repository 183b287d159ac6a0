/** Exit codes scripts can rely on. `plan` uses CHANGES when something would change. */
export const EXIT = {
  ok: 0,
  error: 1,
  changes: 2,
} as const;
