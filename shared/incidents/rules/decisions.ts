/**
 * The incident's state machine as operators drive it: which status each decision leaves from, which ones mean it was
 * already made, where it leads, and why it is refused elsewhere.
 */
import type { IncidentStatus } from './model';

export type Decision = 'approve' | 'cancel' | 'release';

export const DECISIONS: Record<Decision, { from: IncidentStatus[]; already: IncidentStatus[]; to: IncidentStatus }> = {
  approve: { from: ['awaitingApproval'], already: ['running', 'quarantined', 'contained', 'failed'], to: 'running' },
  cancel: {
    from: ['received', 'planning', 'awaitingApproval'],
    already: ['cancelling', 'cancelled'],
    to: 'cancelling',
  },
  release: {
    from: ['quarantined', 'contained', 'failed', 'nothingFound'],
    already: ['releasing', 'released'],
    to: 'releasing',
  },
};

const WHY: Record<Decision, string> = {
  approve: 'only a plan awaiting approval can be approved',
  cancel: 'only an incident not yet approved can be cancelled; release it once it has run',
  release: 'only an incident that has run can be released; cancel it before approval',
};

/** Where `decision` takes an incident in `status`: a new status, nowhere (made already), or a refusal saying why. */
export function transition(
  status: IncidentStatus,
  decision: Decision,
): { to: IncidentStatus } | { unchanged: true } | { refused: string } {
  const rule = DECISIONS[decision];
  if (rule.already.includes(status)) return { unchanged: true };
  if (!rule.from.includes(status)) return { refused: WHY[decision] };
  return { to: rule.to };
}
