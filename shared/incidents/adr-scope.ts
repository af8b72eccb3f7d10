/**
 * An incident naming a compromised ADR certificate policy is checked before it is accepted: the policy must be one
 * of the namespace DPS is linked to (the only one this backend administers — an operator may not rotate another's
 * CA through it), exist, and be issued by an intermediate (`revokeAndRotate` applies to ICAs only; a root's
 * compromise is a new namespace's matter). Anything else is bad input, refused with the reason (a 400); ADR refusing
 * the names is a 400 too, and ADR refusing our identity or down after the retries a 503 naming it — never a 500, which
 * on the alerts path would end the batch (review finding 9a).
 */
import { formatCertificatePolicy } from '../certificate-policy';
import { asCallerError, ValidationError } from '../errors';
import { type IncidentDeps, withRetry } from './deps';
import type { IncidentRequest } from './rules/incident';

export async function checkPolicyScope(deps: IncidentDeps, request: IncidentRequest): Promise<void> {
  const policy = request.scope.certificatePolicy;
  if (!policy) return;
  const named = formatCertificatePolicy(policy);
  if (!deps.deviceRegistry || !deps.adrNamespace)
    throw new ValidationError(
      `scope.certificatePolicy ${named}: this backend administers no Azure Device Registry namespace (ADR_NAMESPACE is not set)`,
    );
  if (policy.namespaceName.toLowerCase() !== deps.adrNamespace.toLowerCase())
    throw new ValidationError(
      `scope.certificatePolicy ${named} is a policy of namespace ${policy.namespaceName}: this backend administers only ${deps.adrNamespace}, the namespace DPS is linked to`,
    );
  const registry = await deps.deviceRegistry();
  const retried = withRetry(deps);
  const r = <T>(call: () => Promise<T>) =>
    retried(call).catch((err: unknown) => {
      throw asCallerError('Azure Device Registry', `reading scope.certificatePolicy ${named}`, err);
    });
  const ca = await r(() => registry.certificateAuthority(policy.namespaceName, policy.certificateAuthorityName));
  if (!ca)
    throw new ValidationError(
      `scope.certificatePolicy ${named}: namespace ${policy.namespaceName} has no certificate authority ${policy.certificateAuthorityName}`,
    );
  if (ca.type !== 'ICA')
    throw new ValidationError(
      `scope.certificatePolicy ${named}: ${policy.certificateAuthorityName} is a ${ca.type} CA; revokeAndRotate applies to intermediates (ICA) only`,
    );
  if (!(await r(() => registry.certificatePolicy(policy))))
    throw new ValidationError(
      `scope.certificatePolicy ${named}: certificate authority ${policy.certificateAuthorityName} has no policy ${policy.certificatePolicyName}`,
    );
}
