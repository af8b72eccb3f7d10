/** An operator silences a finding, with a reason; the change is audited. */
import { audit } from '../audit';
import type { DocumentStore } from '../ports';
import type { FindingKind, FindingRepository, StoredFinding } from './repository';

export interface SuppressDeps {
  findings: () => Promise<FindingRepository>;
  /** The audit. */
  store: () => Promise<DocumentStore>;
}

/** The suppression written, or undefined when there is no such finding. */
export async function suppressFinding(
  deps: SuppressDeps,
  finding: { kind: FindingKind; id: string },
  by: string,
  reason: string,
  now: Date,
): Promise<StoredFinding['suppressed'] | undefined> {
  const findings = await deps.findings();
  const stored = await findings.get(finding.kind, finding.id);
  if (!stored) return undefined;
  const suppressed = { by, reason, at: now.toISOString() };
  await findings.replace({ ...stored, suppressed });
  await audit(await deps.store(), {
    actor: by,
    action: 'finding.suppressed',
    target: { kind: 'finding', id: finding.id },
    before: stored.suppressed ?? null,
    after: suppressed,
  });
  return suppressed;
}
