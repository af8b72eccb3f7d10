/**
 * A contained device's DPS registration record deleted (deleting an enrollment leaves it, and it counts against the
 * DPS quota). Safe to send again: "not found" after a try whose answer was lost is that try's delete. Audited once
 * per device, under an id of its own, found gone or deleted.
 */
import { audit } from '../audit';
import { NotFoundError } from '../errors';
import { actorOf, dateOf, type IncidentDeps, lower, onceFor } from './deps';
import { callsTo, DPS } from './outage-wait';

export async function deleteRegistration(deps: IncidentDeps, incidentId: string, registrationId: string) {
  const dps = await deps.enrollments();
  const tries = callsTo(deps, DPS);
  let before: Record<string, unknown> = { registered: true };
  try {
    await tries.call(() => dps.deleteRegistrationState(registrationId));
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    // Gone: deleted by the try whose answer was lost, by a share that stopped before its record, or never made.
    before = tries.answerLost() ? { registered: true, answerLost: true } : { registered: 'notFound' };
  }
  await audit(
    await deps.store(),
    {
      actor: actorOf(incidentId),
      action: 'deleteRegistration',
      target: { kind: 'registration', id: registrationId },
      before,
      after: { registered: false },
    },
    dateOf(deps),
    onceFor(deps, incidentId, 'registration', lower(registrationId), 'deleted'),
  );
}
