/**
 * The `security-alerts` batch on the local stack, the handler called as the Functions host calls it, from the
 * attacker's side (review findings 5 and 9a): an alert that fails while it is handled (Cosmos refusing the write, here)
 * does not end the batch — the alerts after it are still handled — and is kept as an ALERT_FAILED finding with the
 * reason; an alert asking for an ADR certificate policy's rotation (irreversible, and an alert's plan would need one
 * human only) is refused as ALERT_REJECTED, nothing of it recorded as an incident, before ADR is even asked.
 */
import { InvocationContext } from '@azure/functions';

import { NO_FAULTS } from '../../../dev/faults/plan';
import { CONTAINERS } from '../../../shared/containers';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ faults: NO_FAULTS, withStorage: true });
  Object.assign(process.env, stack.env);
});
afterAll(async () => {
  const { allocationRuntime } = await import('../../../functions/edge/allocation-runtime');
  await allocationRuntime().stop();
  await stack?.close();
});

const alert = (id: string, scope: object) => ({ id, reason: 'tamper alarm', mode: 'quarantine', scope });
const findings = async () =>
  (
    await stack.services.store
      .container(CONTAINERS.findings.name)
      .query("SELECT * FROM c WHERE c.kind = 'alert'", {}, { partitionKey: 'alert' })
  ).items as unknown as Array<{ code: string; reason: string; alert: string }>;
const incident = (id: string) =>
  stack.services.store.container(CONTAINERS.incidents.name).read(id, id) as Promise<
    { submittedBy?: string; source?: string } | undefined
  >;

test('a failing alert is kept as a finding and the batch goes on; an alert may not ask for a policy’s rotation', async () => {
  const { incidentAlerts } = await import('../../../functions/incidents');
  // Cosmos refuses the first incident written (our identity's role, say): the first alert fails.
  stack.faults?.set({
    rules: [
      {
        service: 'cosmos',
        target: CONTAINERS.incidents.name,
        operation: 'create',
        calls: [1],
        fault: { kind: 'status', status: 403 },
      },
    ],
  });
  const logged: string[] = [];
  const context = new InvocationContext({
    invocationId: 'alerts-1',
    logHandler: (_level, ...args) => logged.push(args.join(' ')),
  });
  await incidentAlerts(
    [
      alert('alert-fails-1', { registrationIds: ['line9-x'] }),
      alert('alert-rotate-1', { certificatePolicy: 'dps-lifecycle-demo/demo-ica/demo-policy' }),
      alert('alert-ok-1', { registrationIds: ['line9-y'] }),
    ],
    context,
  );
  expect(stack.faults?.counts().byService.cosmos).toEqual({ 'status 403': 1 });

  const kept = await findings();
  const failed = kept.find((f) => f.alert.includes('alert-fails-1'));
  expect(failed).toMatchObject({ code: 'ALERT_FAILED', reason: expect.stringMatching(/^not handled: /) });
  const rotate = kept.find((f) => f.alert.includes('alert-rotate-1'));
  expect(rotate).toMatchObject({
    code: 'ALERT_REJECTED',
    reason: expect.stringMatching(
      /may not ask for an ADR certificate policy to be revoked and rotated \(irreversible\)/,
    ),
  });
  expect(await incident('alert-rotate-1')).toBeUndefined();
  // The alert after the failing one was handled.
  expect(await incident('alert-ok-1')).toMatchObject({ submittedBy: 'alert:security-alerts', source: 'alert' });
  expect(logged.some((l) => l.includes('security alert failed: not handled'))).toBe(true);

  // Sent again once Cosmos takes it, the failed alert is handled.
  stack.faults?.set(NO_FAULTS);
  await incidentAlerts([alert('alert-fails-1', { registrationIds: ['line9-x'] })], context);
  expect(await incident('alert-fails-1')).toMatchObject({ source: 'alert' });
});
