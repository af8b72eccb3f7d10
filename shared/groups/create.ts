/**
 * Creating an enrollment group for an operator: the policy it names must be one of the ADR namespace DPS is linked to
 * and exist there (checked with ADR before DPS is written), the group must not exist yet — unless it is the one this
 * very request made (a retry after a lost answer: recognised by its request tag, answered as before) — and the
 * creation is audited once. The answer never carries the group's keys or the webhook's URL (it holds the webhook's
 * function key): an operator reads the keys in DPS.
 */
import { audit } from '../audit';
import { formatCertificatePolicy } from '../certificate-policy';
import type { DeviceRegistryPort } from '../certificates';
import { ValidationError } from '../errors';
import type { DocumentStore, EnrollmentsPort } from '../ports';
import { retryThrottled } from '../retry';
import { groupOf, type GroupRequest, REQUEST_TAG, requestDigest } from './rules/group';

export interface GroupDeps {
  enrollments: () => Promise<EnrollmentsPort>;
  store: () => Promise<DocumentStore>;
  /** The allocation webhook as DPS calls it (with its key). */
  webhookUrl: string | undefined;
  deviceRegistry?: () => Promise<DeviceRegistryPort>;
  adrNamespace?: string;
  now?: () => Date;
}

export interface GroupView {
  enrollmentGroupId: string;
  attestation: 'symmetricKey' | 'x509';
  certificatePolicy?: string;
  /** The DPS API version the webhook is told of the group in. */
  webhookApiVersion: string;
  provisioningStatus: string;
}

export type CreateGroupResult =
  { kind: 'created' | 'unchanged'; group: GroupView } | { kind: 'conflict'; reason: string };

async function checkPolicy(deps: GroupDeps, request: GroupRequest): Promise<void> {
  const policy = request.certificatePolicy;
  if (!policy) return;
  const named = formatCertificatePolicy(policy);
  if (!deps.deviceRegistry || !deps.adrNamespace)
    throw new ValidationError(
      `certificatePolicy ${named}: this backend administers no Azure Device Registry namespace (ADR_NAMESPACE is not set)`,
    );
  if (policy.namespaceName.toLowerCase() !== deps.adrNamespace.toLowerCase())
    throw new ValidationError(
      `certificatePolicy ${named} is a policy of namespace ${policy.namespaceName}: DPS is linked to ${deps.adrNamespace}, and issues only from its policies`,
    );
  const registry = await deps.deviceRegistry();
  if (!(await retryThrottled(() => registry.certificatePolicy(policy))))
    throw new ValidationError(`certificatePolicy ${named} does not exist in Azure Device Registry`);
}

const viewOf = (request: GroupRequest, webhookApiVersion: string, status: string): GroupView => ({
  enrollmentGroupId: request.enrollmentGroupId,
  attestation: request.attestation.type,
  ...(request.certificatePolicy ? { certificatePolicy: formatCertificatePolicy(request.certificatePolicy) } : {}),
  webhookApiVersion,
  provisioningStatus: status,
});

export async function createGroup(deps: GroupDeps, request: GroupRequest, by: string): Promise<CreateGroupResult> {
  if (!deps.webhookUrl) throw new Error('ALLOCATION_WEBHOOK_URL is not set: a group would have no webhook to call');
  await checkPolicy(deps, request);
  const dps = await deps.enrollments();
  const group = groupOf(request, deps.webhookUrl);
  const digest = requestDigest(request);
  const apiVersion = group.customAllocationDefinition?.apiVersion as string;
  const existing = await retryThrottled(() => dps.getGroup(request.enrollmentGroupId));
  if (existing && existing.initialTwin?.tags?.[REQUEST_TAG] !== digest)
    return {
      kind: 'conflict',
      reason: `enrollment group ${request.enrollmentGroupId} exists already (not made by this request): choose another ID, or change it in DPS`,
    };
  const written = existing ?? (await retryThrottled(() => dps.putGroup(group)));
  // Audited under an id of its own: a retry that finds the group its first try made writes the record once.
  await audit(
    await deps.store(),
    {
      actor: by,
      action: 'createEnrollmentGroup',
      target: { kind: 'enrollmentGroup', id: request.enrollmentGroupId },
      before: null,
      after: {
        attestation: request.attestation.type,
        certificatePolicy: request.certificatePolicy ? formatCertificatePolicy(request.certificatePolicy) : null,
        webhookApiVersion: apiVersion,
      },
    },
    deps.now?.() ?? new Date(),
    `group.${request.enrollmentGroupId}.${digest}`,
  );
  return {
    kind: existing ? 'unchanged' : 'created',
    group: viewOf(request, apiVersion, written.provisioningStatus ?? 'enabled'),
  };
}
