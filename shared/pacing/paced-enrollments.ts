/**
 * DPS's service API, paced: every call waits for its slot in the shared pace of the DPS instance, then tells the
 * pace how it went. Wrapped around the port once, in the composition root, so that imports, reconciliation, the
 * sweeps and containment — every caller of the one quota — are paced alike, and none of them changes.
 *
 * Counted the cautious way: a bulk call of n enrollments as n operations, anything else as one. When DPS counts a
 * bulk call once, the pace simply learns a ceiling ten times higher.
 */
import type { BulkEnrollmentMode, IndividualEnrollment } from '../dps-types';
import { ThrottledError, TransientError } from '../errors';
import type { Deadline, EnrollmentsPort } from '../ports';
import type { Pacer } from './pacer';

async function paced<T>(pacer: Pacer, ops: number, call: () => Promise<T>, deadline?: Deadline): Promise<T> {
  const ticket = await pacer.acquire(ops, deadline);
  try {
    const result = await call();
    pacer.settled(ticket);
    return result;
  } catch (err) {
    // The 429 is what the caller must see, even when telling the shared pace of it failed (this caller still waits
    // out its Retry-After; the others learn at the next 429).
    if (err instanceof ThrottledError) await pacer.throttled(ticket, err.retryAfterMs).catch(() => undefined);
    // Any other answer (404, 409, 412, 400…) was a request DPS took and counted; a lost one may not have been.
    else if (!(err instanceof TransientError)) pacer.settled(ticket);
    throw err;
  }
}

/** Given a `deadline`, no call waits for a slot past it (Pacer.acquire); `until` answers the port so bounded. */
export function pacedEnrollments(inner: EnrollmentsPort, pacer: Pacer, deadline?: Deadline): EnrollmentsPort {
  const one = <T>(call: () => Promise<T>) => paced(pacer, 1, call, deadline);
  return {
    until: (later) => pacedEnrollments(inner, pacer, later),
    getEnrollment: (id) => one(() => inner.getEnrollment(id)),
    putEnrollment: (enrollment) => one(() => inner.putEnrollment(enrollment)),
    deleteEnrollment: (id, etag) => one(() => inner.deleteEnrollment(id, etag)),
    bulkEnrollments: (mode: BulkEnrollmentMode, enrollments: IndividualEnrollment[]) =>
      paced(pacer, Math.max(1, enrollments.length), () => inner.bulkEnrollments(mode, enrollments), deadline),
    queryEnrollments: (pageSize, token) => one(() => inner.queryEnrollments(pageSize, token)),
    getGroup: (id) => one(() => inner.getGroup(id)),
    putGroup: (group) => one(() => inner.putGroup(group)),
    deleteGroup: (id, etag) => one(() => inner.deleteGroup(id, etag)),
    queryGroups: (pageSize, token) => one(() => inner.queryGroups(pageSize, token)),
    getRegistrationState: (id) => one(() => inner.getRegistrationState(id)),
    deleteRegistrationState: (id, etag) => one(() => inner.deleteRegistrationState(id, etag)),
    queryGroupRegistrations: (groupId, pageSize, token) =>
      one(() => inner.queryGroupRegistrations(groupId, pageSize, token)),
  };
}
