/** The fault plan's rules and its seeded schedule, without a stack: which call meets which fault, and why. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FaultInjector } from '../../../dev/faults/injector';
import { cosmosCall, simulatorCall, storageCall } from '../../../dev/faults/operations';
import { checkFaultPlan, type FaultPlan, loadFaultPlan } from '../../../dev/faults/plan';
import { manualClock } from '../../support/manual-clock';

const call = { service: 'dps' as const, target: 'contoso-dps', operation: 'bulkEnrollments' };
const reset = { kind: 'resetAfterApply' as const };
/** The call numbers (from 1) on which the injector answers a fault, over `n` calls. */
function firing(injector: FaultInjector, n: number, c = call): number[] {
  return Array.from({ length: n }, (_, i) => (injector.decide(c) ? i + 1 : 0)).filter(Boolean);
}

test('one seed gives one schedule; another seed another; set() starts the schedule again', () => {
  const plan = (seed: number): FaultPlan => ({ seed, rules: [{ service: 'dps', probability: 0.3, fault: reset }] });
  const a = new FaultInjector(plan(5));
  const first = firing(a, 200);
  expect(first.length).toBeGreaterThan(40);
  expect(first.length).toBeLessThan(80);
  a.set(plan(5));
  expect(firing(a, 200)).toEqual(first);
  expect(firing(new FaultInjector(plan(5)), 200)).toEqual(first);
  expect(firing(new FaultInjector(plan(6)), 200)).not.toEqual(first);
});

test("exact call numbers count only the rule's own calls, whatever else interleaves", () => {
  const injector = new FaultInjector({
    rules: [{ service: 'dps', operation: 'bulkEnrollments', calls: [3, 7], fault: reset }],
  });
  const fired: number[] = [];
  for (let n = 1; n <= 10; n++) {
    injector.decide({ ...call, operation: 'getEnrollment' });
    injector.decide({ service: 'cosmos', operation: 'read' });
    if (injector.decide(call)) fired.push(n);
  }
  expect(fired).toEqual([3, 7]);
  expect(injector.calls('dps')).toBe(20);
  expect(injector.calls('dps', 'bulkEnrollments')).toBe(10);
});

test('a window on the manual clock: down from afterMs for forMs, counted from when the plan was set', () => {
  const clock = manualClock(1_000_000);
  const injector = new FaultInjector(
    {
      rules: [
        { service: 'iothub', target: 'Hub-A', window: { afterMs: 10_000, forMs: 60_000 }, fault: { kind: 'down' } },
      ],
    },
    clock.millis,
  );
  const hubA = { service: 'iothub' as const, target: 'hub-a', operation: 'getDevice' };
  const hubB = { ...hubA, target: 'hub-b' };
  expect(injector.decide(hubA)).toBeUndefined();
  clock.advance(10_000);
  expect(injector.decide(hubA)).toEqual({ kind: 'down' });
  expect(injector.decide(hubB)).toBeUndefined();
  clock.advance(59_999);
  expect(injector.decide(hubA)).toEqual({ kind: 'down' });
  clock.advance(1);
  expect(injector.decide(hubA)).toBeUndefined();
});

test('every matching rule counts the call; the first that fires wins; counters and summary say what was injected', () => {
  const injector = new FaultInjector({
    rules: [
      { service: 'dps', calls: [2], fault: { kind: 'status', status: 503 } },
      { service: 'dps', calls: [1, 2], fault: reset },
    ],
  });
  expect(injector.decide(call)).toEqual(reset);
  expect(injector.decide(call)).toEqual({ kind: 'status', status: 503 });
  expect(injector.decide(call)).toBeUndefined();
  expect(injector.counts()).toEqual({ total: 2, byService: { dps: { resetAfterApply: 1, 'status 503': 1 } } });
  expect(injector.summary()).toBe('injected 2 faults: dps 1 resetAfterApply, 1 status 503');
  expect(injector.events.map((e) => [e.rule, e.call])).toEqual([
    [2, 1],
    [1, 2],
  ]);
});

test('a proxy refuses connections only for a whole-service outage in its window', () => {
  const clock = manualClock();
  const injector = new FaultInjector(
    {
      rules: [
        { service: 'cosmos', operation: 'read', fault: { kind: 'down' } },
        { service: 'storage', window: { forMs: 1000 }, fault: { kind: 'down' } },
      ],
    },
    clock.millis,
  );
  expect(injector.refuseConnection('cosmos')).toBe(false);
  expect(injector.refuseConnection('storage')).toBe(true);
  clock.advance(1000);
  expect(injector.refuseConnection('storage')).toBe(false);
});

test('a wrong plan is refused, naming the rule; a plan file is read and checked', () => {
  expect(() => checkFaultPlan({ rules: [{ service: 'sql' as never, fault: reset }] })).toThrow(/rule 1: service/);
  expect(() => checkFaultPlan({ rules: [{ service: 'dps', probability: 0.1, calls: [1], fault: reset }] })).toThrow(
    /rule 1: give probability or calls/,
  );
  expect(() => checkFaultPlan({ rules: [{ service: 'dps', fault: { kind: 'status', status: 200 } }] })).toThrow(
    /status must be an HTTP error/,
  );
  expect(() => checkFaultPlan({ rules: [{ service: 'dps', calls: [0], fault: reset }] })).toThrow(/counted from 1/);
  expect(() => checkFaultPlan({ rules: [{ service: 'storage', fault: { kind: 'stall', afterBytes: -1 } }] })).toThrow(
    /rule 1: fault.afterBytes must be a whole number/,
  );
  const file = join(mkdtempSync(join(tmpdir(), 'faults-')), 'plan.json');
  writeFileSync(file, JSON.stringify({ seed: 3, rules: [{ service: 'storage', probability: 0.05, fault: reset }] }));
  expect(loadFaultPlan(file).rules).toHaveLength(1);
  writeFileSync(file, JSON.stringify({ rules: [{ service: 'storage', fault: { kind: 'explode' } }] }));
  expect(() => loadFaultPlan(file)).toThrow(/fault.kind must be one of/);
});

const request = (method: string, url: string, headers: Record<string, string> = {}) =>
  ({ method, url, headers }) as unknown as IncomingMessage;

test('operations are named from the method, path and headers, as the services route them', () => {
  const dps = 'contoso-dps.azure-devices-provisioning.net';
  const sim = (method: string, url: string, host = dps) => simulatorCall(request(method, url), host, dps).operation;
  expect(sim('POST', '/enrollments?api-version=2021-10-01')).toBe('bulkEnrollments');
  expect(sim('GET', '/enrollments/dev-1?api-version=2021-10-01')).toBe('getEnrollment');
  expect(sim('POST', '/enrollmentGroups/query?api-version=2021-10-01')).toBe('queryGroups');
  expect(sim('PUT', '/0ne00000001/registrations/dev-1/register', 'global.azure-devices-provisioning.net')).toBe(
    'register',
  );
  const hub = 'hub-eu-1.azure-devices.net';
  expect(simulatorCall(request('POST', '/devices?api-version=2021-04-12'), hub, dps)).toEqual({
    service: 'iothub',
    target: hub,
    operation: 'bulkDevices',
  });
  expect(sim('DELETE', '/devices/d-1', hub)).toBe('deleteDevice');

  const docs = '/dbs/db/colls/imports/docs';
  expect(cosmosCall(request('GET', `${docs}/a`))).toEqual({ service: 'cosmos', target: 'imports', operation: 'read' });
  expect(cosmosCall(request('POST', docs, { 'x-ms-documentdb-isquery': 'True' })).operation).toBe('query');
  expect(cosmosCall(request('POST', docs, { 'x-ms-documentdb-is-upsert': 'true' })).operation).toBe('upsert');
  expect(
    cosmosCall(request('POST', docs, { 'x-ms-cosmos-is-batch-request': 'True', 'x-ms-cosmos-batch-atomic': 'False' }))
      .operation,
  ).toBe('bulk');

  expect(storageCall(request('POST', '/devstoreaccount1/import-chunks/messages'), 'queue')).toEqual({
    service: 'storage',
    target: 'import-chunks',
    operation: 'sendMessage',
  });
  expect(storageCall(request('PUT', '/devstoreaccount1/audit-trail/a.log?comp=appendblock'), 'blob').operation).toBe(
    'appendBlock',
  );
  expect(storageCall(request('PUT', '/devstoreaccount1/import-uploads/j/upload?comp=snapshot'), 'blob')).toEqual({
    service: 'storage',
    target: 'import-uploads',
    operation: 'createSnapshot',
  });
  expect(
    storageCall(request('PUT', '/devstoreaccount1/import-uploads/j/upload?comp=block&blockid=AA'), 'blob').operation,
  ).toBe('stageBlock');
  expect(
    storageCall(request('GET', '/devstoreaccount1/import-uploads/j/upload', { 'x-ms-range': 'bytes=0-99' }), 'blob')
      .operation,
  ).toBe('downloadBlob');
  expect(
    storageCall(request('POST', '/devstoreaccount1/?restype=service&comp=userdelegationkey'), 'blob').operation,
  ).toBe('getUserDelegationKey');
  expect(storageCall(request('GET', '/devstoreaccount1/?comp=list'), 'blob').operation).toBe('listContainers');
});
