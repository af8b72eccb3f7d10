/**
 * The Azure Device Registry certificate policy an enrollment or group names, so DPS (api-version 2026-11-01) has the
 * policy's issuing CA sign the CSR its devices send: `namespaceName`, `certificateAuthorityName`,
 * `certificatePolicyName` on the enrollment, all three or none. Pure: the patterns are the DPS 2026-11-01 service
 * spec's (and the ADR resource names'); whether the policy exists is ADR's to say, not checked here.
 */
export interface CertificatePolicyRef {
  namespaceName: string;
  certificateAuthorityName: string;
  certificatePolicyName: string;
}

export const CERTIFICATE_POLICY_NAMES = ['namespaceName', 'certificateAuthorityName', 'certificatePolicyName'] as const;

/** DPS 2026-11-01 service.json: the names' patterns and lengths (the lookahead carries the length). */
export const CERTIFICATE_POLICY_PATTERNS: Record<(typeof CERTIFICATE_POLICY_NAMES)[number], string> = {
  namespaceName: '^(?=.{3,64}$)[a-z0-9][a-z0-9-]*[a-z0-9]$',
  certificateAuthorityName: '^(?=.{3,63}$)[0-9a-zA-Z][a-zA-Z0-9-]*$',
  certificatePolicyName: '^(?=.{3,63}$)[0-9a-zA-Z][a-zA-Z0-9-]*$',
};
const PATTERNS = Object.fromEntries(
  CERTIFICATE_POLICY_NAMES.map((n) => [n, new RegExp(CERTIFICATE_POLICY_PATTERNS[n])]),
) as Record<(typeof CERTIFICATE_POLICY_NAMES)[number], RegExp>;

/** The api-version of DPS that knows the three names (older ones neither take nor show them). */
export const ISSUING_DPS_API_VERSION = '2026-11-01';

/** Written instead of a policy (per job or per row) to enroll without one, whatever the maker's default. */
export const NO_CERTIFICATE_POLICY = 'none';

export type PolicyReading = { ok: true; policy: CertificatePolicyRef | undefined } | { ok: false; reason: string };

/** Why these names cannot be written on an enrollment, or undefined: all three or none, each to its pattern. */
export function certificatePolicyProblem(names: Partial<Record<string, unknown>>): string | undefined {
  const given = CERTIFICATE_POLICY_NAMES.filter((n) => names[n] !== undefined && names[n] !== null && names[n] !== '');
  if (given.length === 0) return undefined;
  if (given.length !== 3)
    return `namespaceName, certificateAuthorityName and certificatePolicyName go together: only ${given.join(', ')} given`;
  for (const name of CERTIFICATE_POLICY_NAMES) {
    const value = names[name];
    if (typeof value !== 'string' || !PATTERNS[name].test(value))
      return `${name} "${String(value)}" is not a valid name (${lengthsOf(name)})`;
  }
  return undefined;
}

const lengthsOf = (name: (typeof CERTIFICATE_POLICY_NAMES)[number]) =>
  name === 'namespaceName'
    ? '3–64 lower-case letters, digits and -, starting and ending with a letter or digit'
    : '3–63 letters, digits and -, starting with a letter or digit';

/**
 * The one-string form a job parameter or a row's column takes: `namespace/authority/policy`, or `none` (no policy,
 * whatever the default), or empty (the default applies: `policy` undefined with `ok`, told apart by `given`).
 */
export function readCertificatePolicy(
  text: string | undefined,
): (PolicyReading & { given: boolean }) | { ok: false; reason: string; given: true } {
  const value = text?.trim();
  if (!value) return { ok: true, policy: undefined, given: false };
  if (value.toLowerCase() === NO_CERTIFICATE_POLICY) return { ok: true, policy: undefined, given: true };
  const parts = value.split('/');
  if (parts.length !== 3)
    return {
      ok: false,
      given: true,
      reason: `certificatePolicy "${value}" must be namespace/certificateAuthority/policy, or ${NO_CERTIFICATE_POLICY}`,
    };
  const policy: CertificatePolicyRef = {
    namespaceName: parts[0],
    certificateAuthorityName: parts[1],
    certificatePolicyName: parts[2],
  };
  const problem = certificatePolicyProblem(policy as unknown as Record<string, unknown>);
  return problem
    ? { ok: false, given: true, reason: `certificatePolicy: ${problem}` }
    : { ok: true, policy, given: true };
}

/** The policy an enrollment or group names, if it names one (as DPS 2026-11-01 shows it). */
export function certificatePolicyOf(entry: object | undefined): CertificatePolicyRef | undefined {
  const e = (entry ?? {}) as Partial<CertificatePolicyRef>;
  return e.namespaceName && e.certificateAuthorityName && e.certificatePolicyName
    ? {
        namespaceName: e.namespaceName,
        certificateAuthorityName: e.certificateAuthorityName,
        certificatePolicyName: e.certificatePolicyName,
      }
    : undefined;
}

export const formatCertificatePolicy = (p: CertificatePolicyRef) =>
  `${p.namespaceName}/${p.certificateAuthorityName}/${p.certificatePolicyName}`;
