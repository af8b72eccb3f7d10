/**
 * Creating an enrollment group for an operator: the policy it names must be one of the ADR namespace DPS is linked to
 * and exist there (checked with ADR before DPS is written), the group must not exist yet — unless it is the one this
 * very request made (a retry after a lost answer: it carries the marker of this request's claim, ./claim.ts, and is
 * still as written) — and the creation is audited once. The answer never carries the group's keys or the webhook's
 * URL (it holds the webhook's function key): an operator reads the keys in DPS.
 *
 * From the attacker's side (review finding 4): a group someone made beforehand, whatever its tags, is a conflict (the
 * marker is random and unknown until written); an existing group is never written over — the put carries no etag, and
 * one DPS answers 409 ("already exists") to a put that names an existing group without one (below); and what
 * containment writes cannot be named (rules/group.ts). A dependency refusing what was sent is a 400 naming it, one
 * refusing our identity or unavailable a 503 (review finding 9): never a 500.
 */
import { createHash } from 'node:crypto';

import { audit, auditDay } from '../audit';
import { formatCertificatePolicy } from '../certificate-policy';
import type { DeviceRegistryPort } from '../certificates';
import { asCallerError, ConflictError, ServiceError, ValidationError } from '../errors';
import type { DocumentStore, EnrollmentsPort } from '../ports';
import { retryThrottled } from '../retry';
import { type GroupClaim, type GroupClaimRepository, isStaleClaim } from './claim';
import { groupOf, type GroupRequest, notGroupOf, requestDigest } from './rules/group';

export interface GroupDeps {
  enrollments: () => Promise<EnrollmentsPort>;
  store: () => Promise<DocumentStore>;
  /** Which request may create the group under an ID. */
  groupClaims: () => Promise<GroupClaimRepository>;
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

const ADR = 'Azure Device Registry';

/** A call to a dependency, its throttling waited out and its other failures told as the caller's answer. */
async function ask<T>(service: string, doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await retryThrottled(call);
  } catch (err) {
    throw asCallerError(service, doing, err);
  }
}

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
  if (!(await ask(ADR, `reading certificate policy ${named}`, () => registry.certificatePolicy(policy))))
    throw new ValidationError(`certificatePolicy ${named} does not exist in Azure Device Registry`);
}

const viewOf = (request: GroupRequest, webhookApiVersion: string, status: string): GroupView => ({
  enrollmentGroupId: request.enrollmentGroupId,
  attestation: request.attestation.type,
  ...(request.certificatePolicy ? { certificatePolicy: formatCertificatePolicy(request.certificatePolicy) } : {}),
  webhookApiVersion,
  provisioningStatus: status,
});

const conflict = (reason: string): CreateGroupResult => ({ kind: 'conflict', reason });

/** DPS refused the write itself (nothing was applied): a 4xx that is not throttling, and not "it exists". */
const refusedOutright = (err: unknown) =>
  err instanceof ValidationError ||
  (err instanceof ServiceError && err.status !== undefined && err.status >= 400 && err.status < 500);

export async function createGroup(deps: GroupDeps, request: GroupRequest, by: string): Promise<CreateGroupResult> {
  if (!deps.webhookUrl) throw new Error('ALLOCATION_WEBHOOK_URL is not set: a group would have no webhook to call');
  const webhookUrl = deps.webhookUrl;
  await checkPolicy(deps, request);
  const id = request.enrollmentGroupId;
  const at = deps.now?.() ?? new Date();
  const dps = await deps.enrollments();
  const read = () => ask('DPS', `reading enrollment group ${id}`, () => dps.getGroup(id));
  const claims = await deps.groupClaims();
  const digest = requestDigest(request);

  const outcome = await claims.claim(id, digest, by, at);
  let claim: GroupClaim | undefined = outcome.claim;
  if (outcome.kind === 'other') {
    if (await read()) return conflict(existsReason(id, 'not made by this request'));
    if (!isStaleClaim(outcome.claim, at))
      return conflict(
        `enrollment group ${id} is being created by another request (by ${outcome.claim.by} at ${outcome.claim.claimedAt}): send that request again, or choose another ID`,
      );
    claim = await claims.takeOver(outcome.claim, digest, by, at);
    if (!claim) return conflict(`enrollment group ${id} was claimed by another request just now: choose another ID`);
  }
  const mine = claim;
  // The group DPS holds is this request's only if it carries the claim's marker, is as written, and — when the
  // claim noted DPS's etag of it — was not written since (changed, or deleted and made again).
  const judge = async (stored: NonNullable<Awaited<ReturnType<typeof read>>>): Promise<CreateGroupResult> => {
    const why =
      notGroupOf(stored, request, webhookUrl, mine.marker) ??
      (mine.writtenEtag && stored.etag && stored.etag !== mine.writtenEtag ? 'it was written since' : undefined);
    if (why) {
      await claims.drop(mine); // this request wrote nothing there: its claim holds nothing
      return conflict(existsReason(id, why));
    }
    await auditCreated(deps, request, by, at, digest, mine, stored.etag);
    return {
      kind: 'unchanged',
      group: viewOf(request, apiVersionOf(request, webhookUrl), stored.provisioningStatus ?? 'enabled'),
    };
  };

  const existing = await read().catch(async (err: unknown) => {
    // Nothing was written under a claim made by this very call: let the ID go rather than hold it for a while.
    if (outcome.kind === 'other' || outcome.fresh) await claims.drop(mine);
    throw err;
  });
  if (existing) return judge(existing);
  let written;
  try {
    // No etag: a create. One DPS answers a put without If-Match that names an existing group 409 (SDK threads:
    // azure-iot-sdk-node#165, azure-iot-sdk-csharp#3076, azure-sdk-for-python#35187) — a group made since the read
    // is then judged, not written over. (The local DPS answers the same: see README, Security.)
    written = await retryThrottled(() => dps.putGroup(groupOf(request, webhookUrl, mine.marker)));
  } catch (err) {
    if (err instanceof ConflictError) {
      const now = await read();
      return now ? judge(now) : conflict(existsReason(id, 'DPS answered that it exists'));
    }
    if (refusedOutright(err)) await claims.drop(mine); // nothing of it is in DPS: the ID is free again
    throw asCallerError('DPS', `writing enrollment group ${id}`, err);
  }
  await claims.noteWritten(mine, written.etag);
  await auditCreated(deps, request, by, at, digest, mine, written.etag);
  return {
    kind: 'created',
    group: viewOf(request, apiVersionOf(request, webhookUrl), written.provisioningStatus ?? 'enabled'),
  };
}

const existsReason = (id: string, why: string) =>
  `enrollment group ${id} exists already (${why}): choose another ID, or change it in DPS`;

const apiVersionOf = (request: GroupRequest, webhookUrl: string) =>
  groupOf(request, webhookUrl, '').customAllocationDefinition?.apiVersion as string;

/**
 * Audited under an id of its own, filed under the day of the claim it was written under: a retry that finds the group
 * its first try made writes the record once, also on a later UTC day. The id names DPS's write (its etag, hashed: an
 * etag may hold characters an id may not): the claim outlives the group, so the same request sent again after the
 * group was deleted in DPS writes it anew, and that write is on record too, under its own id.
 */
async function auditCreated(
  deps: GroupDeps,
  request: GroupRequest,
  by: string,
  at: Date,
  digest: string,
  claim: GroupClaim,
  etag: string | undefined,
) {
  const write = etag ? `.${createHash('sha256').update(etag).digest('hex').slice(0, 16)}` : '';
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
        webhookApiVersion: apiVersionOf(request, deps.webhookUrl as string),
      },
    },
    at,
    { id: `group.${request.enrollmentGroupId}.${digest}${write}`, day: auditDay(claim.claimedAt) },
  );
}
