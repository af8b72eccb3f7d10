/**
 * DPS 2026-11-01's link from an enrollment or group to an ADR certificate policy: `namespaceName`,
 * `certificateAuthorityName`, `certificatePolicyName` (service.json 2026-11-01, on IndividualEnrollment and
 * EnrollmentGroup), all three or none. Older api-versions neither take nor show them; a write under an older version
 * keeps the names already stored (assumed: DPS does not erase fields a version does not know).
 */
import type { AdrPolicyRef } from './adr';
import { HttpError } from './wire';

/** The api-versions that know certificate issuance (the DPS specs' stable 2026-11-01). */
export const ISSUING_API_VERSIONS = new Set(['2026-11-01']);
export const ADR_NAMES = ['namespaceName', 'certificateAuthorityName', 'certificatePolicyName'] as const;

/** The spec's patterns and lengths of the three names. */
const PATTERNS: Record<(typeof ADR_NAMES)[number], RegExp> = {
  namespaceName: /^(?=.{3,64}$)[a-z0-9][a-z0-9-]*[a-z0-9]$/,
  certificateAuthorityName: /^(?=.{3,63}$)[0-9a-zA-Z][a-zA-Z0-9-]*$/,
  certificatePolicyName: /^(?=.{3,63}$)[0-9a-zA-Z][a-zA-Z0-9-]*$/,
};

type WithNames = Partial<Record<(typeof ADR_NAMES)[number], unknown>>;

export const knowsIssuance = (apiVersion: string | null | undefined) => ISSUING_API_VERSIONS.has(apiVersion ?? '');

/** The policy an enrollment links, or undefined. */
export function policyOf(entry: object): AdrPolicyRef | undefined {
  const e = entry as WithNames;
  return typeof e.namespaceName === 'string'
    ? {
        namespaceName: e.namespaceName,
        certificateAuthorityName: e.certificateAuthorityName as string,
        certificatePolicyName: e.certificatePolicyName as string,
      }
    : undefined;
}

/** `entry` without the three names (what an older api-version shows). */
export function withoutNames<T extends object>(entry: T): T {
  const copy = { ...entry } as WithNames;
  for (const name of ADR_NAMES) delete copy[name];
  return copy as T;
}

/** The names a write stores: under 2026-11-01 the request's (all three or none, as the spec writes them); before, the stored ones. */
export function namesToStore(input: object, existing: object | undefined, apiVersion: string | null): WithNames {
  if (!knowsIssuance(apiVersion)) {
    const kept = existing && policyOf(existing);
    return kept ? { ...kept } : {};
  }
  const given = ADR_NAMES.filter((n) => (input as WithNames)[n] !== undefined && (input as WithNames)[n] !== null);
  if (given.length === 0) return {};
  if (given.length !== 3)
    throw new HttpError(
      400,
      400004,
      `namespaceName, certificateAuthorityName and certificatePolicyName go together: ${given.join(', ')} given alone.`,
    );
  for (const name of ADR_NAMES) {
    const value = (input as WithNames)[name];
    if (typeof value !== 'string' || !PATTERNS[name].test(value))
      throw new HttpError(400, 400004, `${name} '${String(value)}' does not match ${PATTERNS[name].source}.`);
  }
  return Object.fromEntries(ADR_NAMES.map((n) => [n, (input as WithNames)[n]]));
}
