/** Who lets a plan run (pure): at once, an admin, or an admin other than its submitter. */
import type { Incident } from './model';
import type { Approval, PlanSummary } from './plan-summary';

export interface ApprovalRules {
  /** Plans of at most this many devices, disabling no group and no CA, are small. */
  maxDevices: number;
  /** A plan that is not small needs an admin other than its submitter. */
  fourEyes: boolean;
}

/**
 * Who lets a plan run. A small plan an admin submitted over HTTP runs at once; a plan that disables a group or a CA,
 * or reaches more devices than `maxDevices`, waits for an admin other than its submitter (with four eyes on); an
 * alert's plan always waits for an admin. What counts is what the plan disables, not what is registered: a group with
 * no registrations is still a group.
 */
export function approvalFor(plan: PlanSummary, source: Incident['source'], rules: ApprovalRules): Approval {
  const wide = [
    ...(plan.groupsToDisable.length ? [`disables ${plan.groupsToDisable.length} enrollment group(s)`] : []),
    ...(plan.disallowCa ? ['disallows a CA in DPS'] : []),
    ...(plan.adr?.revokeAndRotate
      ? [
          `revokes and rotates ADR certificate authority ${plan.adr.revokeAndRotate.certificateAuthorityName} (irreversible)`,
        ]
      : []),
    ...(plan.devices > rules.maxDevices ? [`reaches ${plan.devices} devices (more than ${rules.maxDevices})`] : []),
  ];
  if (wide.length)
    return {
      auto: false,
      otherAdmin: rules.fourEyes,
      why: `the plan ${wide.join(', ')}: ${rules.fourEyes ? 'an admin other than its submitter' : 'an admin'} approves it`,
    };
  if (source === 'alert')
    return { auto: false, otherAdmin: false, why: 'a security alert never runs on its own: an admin approves it' };
  return {
    auto: true,
    otherAdmin: false,
    why: `${plan.devices} ≤ ${rules.maxDevices} devices and no group or CA: runs without waiting`,
  };
}
