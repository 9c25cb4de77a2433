/** What the safety kernel answers for every action. */

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Decision {
  allowed: boolean;
  /** Stable rule id, e.g. `command.privilege-escalation`; `allow.*` when allowed. */
  rule: string;
  severity: Severity;
  reason: string;
  /**
   * A refusal the profile marks `ask`: a person may allow this exact action (an
   * approval), where a plain refusal is final. Never set on a critical refusal.
   */
  ask?: boolean;
}

export function allow(rule: string, reason: string): Decision {
  return { allowed: true, rule, severity: 'info', reason };
}

export function deny(rule: string, severity: Severity, reason: string): Decision {
  return { allowed: false, rule, severity, reason };
}
