/**
 * A compromised policy's CA revoked and rotated, over in-memory repositories and a scripted ADR, from the attacker's
 * side of review finding 1: it is sent at most once whatever answer is lost — only a 429 on the POST is sent again;
 * an outcome unknown (a lost answer, a 202 whose operation could not be followed) is settled by reading the CA, never
 * by asking again, and a CA still unchanged after the bound fails the step for a human. A rotation ADR applied is
 * always audited, and its release says it is not undone. Finding 8: a CA already rotated since the incident was
 * received is not rotated again.
 */
import { randomUUID } from 'node:crypto';

import { DEFAULT_ROTATION_OUTCOME_WAIT_MS, releaseRotation, runAdrRotate } from '../../../shared/incidents/adr-rotate';
import { holdId } from '../../../shared/incidents/repositories';
import type { Incident } from '../../../shared/incidents/rules/model';
import { adrSetup as setup, incidentWith, NS, rotateStep } from '../../support/scripted-registry';

const FAR = Number.MAX_SAFE_INTEGER;
const stepOf = async (s: ReturnType<typeof setup>, id: string) => ((await s.incidents.get(id)) as Incident).steps![0];
const actions = async (s: ReturnType<typeof setup>) => (await s.audits()).map((a) => a.action);

test('the answer lost after ADR rotated: the CA read again in the same share, not sent twice, audited once', async () => {
  const s = setup();
  s.registry.loseAfter.add('rotate');
  const incident = await incidentWith(s, 'inc-r', [rotateStep()]);
  expect(await runAdrRotate(s.deps, incident, 0, FAR)).toBe(true);
  expect([s.registry.posts, s.registry.rotations]).toEqual([1, 1]);
  const done = (await s.incidents.get('inc-r')) as Incident;
  expect(done.steps![0]).toMatchObject({
    rotatedAt: expect.any(String),
    done: 1,
    errors: [],
    before: { notBefore: '2026-01-01T00:00:00.000Z' },
    outcomeUnknown: { why: expect.stringMatching(/connection reset/) },
  });
  // Run once more (a redelivered message): nothing is asked of ADR.
  expect(await runAdrRotate(s.deps, done, 0, FAR)).toBe(true);
  expect(s.registry.posts).toBe(1);
  const audits = await s.audits();
  expect(audits.map((a) => a.action)).toEqual(['revokeAndRotate']);
  expect(audits[0].after).toMatchObject({ irreversible: true, notBefore: '2026-02-01T00:00:00.000Z' });
});

test('the request lost before ADR saw it: never asked again (ADR may start late); a human after the bound', async () => {
  const s = setup();
  s.registry.loseBefore.add('rotate');
  const incident = await incidentWith(s, 'inc-l', [rotateStep()]);
  // The share's deadline has come while the CA shows nothing: the step says there is more, having asked once.
  expect(await runAdrRotate(s.deps, incident, 0, 0)).toBe(false);
  s.clock.advance(DEFAULT_ROTATION_OUTCOME_WAIT_MS - 1);
  expect(await runAdrRotate(s.deps, (await s.incidents.get('inc-l')) as Incident, 0, 0)).toBe(false);
  s.clock.advance(1);
  expect(await runAdrRotate(s.deps, (await s.incidents.get('inc-l')) as Incident, 0, FAR)).toBe(true);
  expect([s.registry.posts, s.registry.rotations]).toEqual([1, 0]);
  const step = await stepOf(s, 'inc-l');
  expect(step.errors).toEqual([expect.stringMatching(/outcome is unknown .*connection reset.* not sent again/)]);
  expect(await actions(s)).toEqual([]);
});

test('a 202 whose operation could not be followed: the CA changing later is this rotation, audited, never resent', async () => {
  const s = setup();
  s.registry.rotateAnswers = ['unknownNotApplied'];
  const incident = await incidentWith(s, 'inc-u', [rotateStep()]);
  expect(await runAdrRotate(s.deps, incident, 0, 0)).toBe(false);
  expect(await stepOf(s, 'inc-u')).toMatchObject({ outcomeUnknown: { operation: 'https://op/1' } });
  // ADR runs it late: first the CA shows it under way, then the new certificate.
  s.registry.ca = { ...s.registry.ca, provisioningState: 'Updating' };
  s.clock.advance(DEFAULT_ROTATION_OUTCOME_WAIT_MS * 2); // under way: waited, not given up
  expect(await runAdrRotate(s.deps, (await s.incidents.get('inc-u')) as Incident, 0, 0)).toBe(false);
  s.registry.rotate();
  s.registry.ca = { ...s.registry.ca, provisioningState: 'Succeeded' };
  expect(await runAdrRotate(s.deps, (await s.incidents.get('inc-u')) as Incident, 0, 0)).toBe(true);
  expect([s.registry.posts, s.registry.rotations]).toEqual([1, 1]);
  expect(await stepOf(s, 'inc-u')).toMatchObject({ rotatedAt: expect.any(String), errors: [] });
  expect(await actions(s)).toEqual(['revokeAndRotate']);
});

test('a rotation ADR applied after the step gave up is audited by the release, which says it is not undone', async () => {
  const s = setup();
  s.registry.rotateAnswers = ['unknownNotApplied'];
  const incident = await incidentWith(s, 'inc-g', [rotateStep()]);
  s.deps.rotationOutcomeWaitMs = 0;
  expect(await runAdrRotate(s.deps, incident, 0, FAR)).toBe(true);
  expect((await stepOf(s, 'inc-g')).errors).toHaveLength(1);
  s.registry.rotate(); // ADR ran it after all
  const failed = (await s.incidents.get('inc-g')) as Incident;
  await releaseRotation(s.deps, failed, 'admin-2');
  await releaseRotation(s.deps, (await s.incidents.get('inc-g')) as Incident, 'admin-2'); // run again: once
  expect(await actions(s)).toEqual(['revokeAndRotate', 'revokeAndRotateNotUndone']);
  const released = (await s.incidents.get('inc-g')) as Incident;
  expect(released.notes.filter((n) => /cannot be undone/.test(n))).toHaveLength(1);
  expect(s.registry.posts).toBe(1);
});

test('a 429 on the POST itself is sent again (ADR did not take it): one rotation', async () => {
  const s = setup();
  s.registry.rotateAnswers = ['throttled', 'throttled'];
  const incident = await incidentWith(s, 'inc-t', [rotateStep()]);
  expect(await runAdrRotate(s.deps, incident, 0, FAR)).toBe(true);
  expect([s.registry.posts, s.registry.rotations]).toEqual([3, 1]);
  expect(await actions(s)).toEqual(['revokeAndRotate']);
});

test('a 4xx on the POST itself is ADR refusing it: the step fails, nothing audited as rotated', async () => {
  const s = setup();
  s.registry.rotateAnswers = ['refused'];
  const incident = await incidentWith(s, 'inc-x', [rotateStep()]);
  expect(await runAdrRotate(s.deps, incident, 0, FAR)).toBe(true);
  expect((await stepOf(s, 'inc-x')).errors).toEqual([expect.stringMatching(/refused by ADR: .*400/)]);
  await releaseRotation(s.deps, (await s.incidents.get('inc-x')) as Incident, 'admin-2');
  expect(await actions(s)).toEqual([]);
  expect(s.registry.rotations).toBe(0);
});

test('a CA rotated since the incident was received is not rotated again (finding 8): skipped with a note', async () => {
  const s = setup();
  const first = await incidentWith(s, 'inc-1', [rotateStep()]);
  const second = await incidentWith(s, 'inc-2', [rotateStep()]); // received at the same time as the first
  // The first rotates; ADR's new certificate is valid from after both were received.
  s.registry.rotateAnswers = [];
  expect(await runAdrRotate(s.deps, first, 0, FAR)).toBe(true);
  s.registry.ca = { ...s.registry.ca, notBefore: '2026-11-25T10:00:00.000Z' };
  expect(await runAdrRotate(s.deps, second, 0, FAR)).toBe(true);
  expect(s.registry.posts).toBe(1);
  const skipped = (await s.incidents.get('inc-2')) as Incident;
  expect(skipped.steps![0]).toMatchObject({ done: 1, errors: [], alreadyRotated: expect.any(Object) });
  expect(skipped.notes).toEqual([
    expect.stringMatching(/not rotated — its certificate .* is newer than this incident/),
  ]);
  await releaseRotation(s.deps, skipped, 'admin-2');
  expect(await actions(s)).toEqual(['revokeAndRotate']); // no "not undone" for a rotation it did not make
});

test('a rotation under way is waited out, within the share: past the deadline the step says there is more', async () => {
  const s = setup();
  s.registry.ca = { ...s.registry.ca, provisioningState: 'Updating' };
  const incident = await incidentWith(s, 'inc-w', [rotateStep()]);
  // The deadline has passed: the step stops before asking anything.
  expect(await runAdrRotate(s.deps, incident, 0, 0)).toBe(false);
  expect(s.registry.posts).toBe(0);
  s.registry.ca = { ...s.registry.ca, provisioningState: 'Succeeded' };
  expect(await runAdrRotate(s.deps, (await s.incidents.get('inc-w')) as Incident, 0, FAR)).toBe(true);
  expect(s.registry.rotations).toBe(1);
});

test('release lets go of the rotation and says, in the audit and the notes, that it is not undone', async () => {
  const s = setup();
  const incident = await incidentWith(s, 'inc-u', [rotateStep()]);
  await runAdrRotate(s.deps, incident, 0, FAR);
  const ran = (await s.incidents.get('inc-u')) as Incident;
  expect(await s.holds.acquire(holdId.rotation(NS, 'ica-1'), 'inc-u', undefined, 0)).toMatchObject({
    holders: ['inc-u'],
  });
  await releaseRotation(s.deps, ran, 'admin-2');
  await releaseRotation(s.deps, ran, 'admin-2'); // done again after a crash: once in the audit and the notes
  const released = (await s.incidents.get('inc-u')) as Incident;
  expect(released.notes.filter((n) => /cannot be undone/.test(n))).toHaveLength(1);
  expect(await actions(s)).toEqual(['revokeAndRotate', 'revokeAndRotateNotUndone']);
  expect(s.registry.rotations).toBe(1); // nothing was put back, nothing rotated again
  // The hold is gone: another incident acquiring it starts a new one.
  expect(await s.holds.acquire(holdId.rotation(NS, 'ica-1'), randomUUID(), undefined, 0)).toMatchObject({
    holders: [expect.any(String)],
  });
});
