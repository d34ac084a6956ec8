/** The verdict of one check: how many items it looked at, and every violation (the first few spelled out). */
export type CheckResult = {
  name: string;
  /** What the check promises, in one line. */
  rule: string;
  checked: number;
  violationCount: number;
  /** At most MAX_LISTED violations, each naming the request, job or entry. */
  violations: string[];
  passed: boolean;
};

const MAX_LISTED = 20;

export const checkResult = (name: string, rule: string, checked: number, violations: readonly string[]): CheckResult => ({
  name,
  rule,
  checked,
  violationCount: violations.length,
  violations: violations.slice(0, MAX_LISTED),
  passed: violations.length === 0,
});
