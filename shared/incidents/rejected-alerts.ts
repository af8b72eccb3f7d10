/**
 * A security alert that cannot be read as an incident — or that failed while it was handled (`ALERT_FAILED`: a
 * dependency down, say; the batch goes on without it) — is kept where an admin sees it: a finding of kind `alert`
 * (`GET /api/findings?kind=alert`) with the reason and the start of what was sent, raised once per distinct alert.
 */
import { createHash } from 'node:crypto';

import { type FindingBase, raiseOnce } from '../findings';
import { dateOf, type IncidentDeps } from './deps';

const KEPT_CHARS = 2000;

export async function recordRejectedAlert(
  deps: IncidentDeps,
  raw: string,
  reason: string,
  code: 'ALERT_REJECTED' | 'ALERT_FAILED' = 'ALERT_REJECTED',
): Promise<void> {
  const digest = createHash('sha256').update(raw).digest('hex').slice(0, 32);
  const finding: FindingBase & { reason: string; alert: string } = {
    id: `alert.${digest}`,
    kind: 'alert',
    code,
    raisedAt: dateOf(deps).toISOString(),
    reason,
    alert: raw.slice(0, KEPT_CHARS),
  };
  await raiseOnce(await deps.store(), await deps.events(), finding, {
    type: code === 'ALERT_FAILED' ? 'incident.alertFailed' : 'incident.alertRejected',
    subject: finding.id,
    data: { reason },
  });
}
