/**
 * The console's view of the certificates DPS issued through ADR policies, as the sweep keeps them (one record a
 * device): each with its end, its renewal point (`CERT_RENEWAL_PERCENT` of its validity), whether it is past it, and
 * the renewals seen. Its policy is named from ADR: the CA whose subject is the certificate's issuer (as the device
 * reports it), among the namespace's intermediates, and that CA's one policy. A page at a time.
 */
import { formatCertificatePolicy } from '../certificate-policy';
import type { Page } from '../ports';
import type { DeviceRegistryPort } from './device-registry';
import type { IssuedCertificateRepository } from './issued-certificates';
import { renewalPointOf, type RenewalState, renewalState } from './rules/renewal';

export interface IssuedCertificateView {
  hub: string;
  deviceId: string;
  validFrom: string;
  validUntil: string;
  renewalPoint: string;
  state: RenewalState;
  /** `namespace/authority/policy`, when ADR names the CA that issued it. */
  policy?: string;
  issuer?: string;
  thumbprint?: string;
  renewals: number;
  renewedAt?: string;
  firstSeen: string;
  /** A renewal finding is open for it. */
  overdue: boolean;
}

export interface IssuedViewDeps {
  issued: () => Promise<IssuedCertificateRepository>;
  deviceRegistry?: () => Promise<DeviceRegistryPort>;
  adrNamespace?: string;
}

/** A distinguished name as a set of attributes: ADR and node:crypto may order and space them differently. */
const nameKey = (name: string) =>
  name
    .split(/[,\n]/)
    .map((part) =>
      part
        .trim()
        .toLowerCase()
        .replace(/\s*=\s*/, '='),
    )
    .filter(Boolean)
    .sort()
    .join(',');

/** Issuer subject → policy, for the namespace's CAs (at most one root and three intermediates: a few calls). */
async function policiesBySubject(deps: IssuedViewDeps): Promise<Map<string, string>> {
  const bySubject = new Map<string, string>();
  if (!deps.deviceRegistry || !deps.adrNamespace) return bySubject;
  try {
    const registry = await deps.deviceRegistry();
    for (const ca of await registry.certificateAuthorities(deps.adrNamespace)) {
      if (!ca.subject) continue;
      const [policy] = await registry.certificatePolicies(deps.adrNamespace, ca.name);
      if (policy) bySubject.set(nameKey(ca.subject), formatCertificatePolicy(policy));
    }
  } catch {
    // ADR unreachable: the view shows each certificate's issuer without its policy.
  }
  return bySubject;
}

export async function issuedCertificatesView(
  deps: IssuedViewDeps,
  options: { now: Date; renewalPercent: number; pageSize: number; continuationToken?: string },
): Promise<Page<IssuedCertificateView>> {
  const [page, policies] = await Promise.all([
    (await deps.issued()).list(options.pageSize, options.continuationToken),
    policiesBySubject(deps),
  ]);
  return {
    items: page.items.map((r) => {
      const c = r.certificate;
      const policy = c.issuer ? policies.get(nameKey(c.issuer)) : undefined;
      return {
        hub: r.hub,
        deviceId: r.deviceId,
        validFrom: c.validFrom,
        validUntil: c.validUntil,
        renewalPoint: renewalPointOf(c, options.renewalPercent).toISOString(),
        state: renewalState(c, options.now, options.renewalPercent),
        ...(policy ? { policy } : {}),
        ...(c.issuer ? { issuer: c.issuer } : {}),
        ...(c.thumbprint ? { thumbprint: c.thumbprint } : {}),
        renewals: r.renewals ?? 0,
        ...(r.renewedAt ? { renewedAt: r.renewedAt } : {}),
        firstSeen: r.firstSeen,
        overdue: !!r.openFinding,
      };
    }),
    ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
  };
}
