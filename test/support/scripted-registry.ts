/**
 * Azure Device Registry scripted for the incident use cases' unit tests, over in-memory repositories: it can lose the
 * answer to a call it applied (`loseAfter`) or before it (`loseBefore`), and answer a `revokeAndRotate` as scripted
 * (`rotateAnswers`: throttled, refused, or accepted with its outcome lost — applied or not).
 */
import type {
  DeviceRegistryPort,
  RegistryCertificateAuthority,
  RegistryDevice,
  RegistryEnablement,
} from '../../shared/certificates';
import { CONTAINERS } from '../../shared/containers';
import { OutcomeUnknownError, ServiceError, ThrottledError, TransientError } from '../../shared/errors';
import type { IncidentDeps } from '../../shared/incidents/deps';
import { type Incident, newIncident } from '../../shared/incidents/rules/model';
import type { Target } from '../../shared/incidents/rules/resolution';
import type { StepState } from '../../shared/incidents/rules/step-state';
import { CosmosHoldRepository } from '../../shared/incidents/store/hold-repository';
import { CosmosIncidentRepository } from '../../shared/incidents/store/incident-repository';
import { manualClock } from './manual-clock';
import { MemoryStore } from './memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
export const NS = 'fleet-ns';

/** How one `revokeAndRotate` is answered: 429; a 4xx refusal; accepted with the outcome lost, applied or not. */
export type RotateAnswer = 'throttled' | 'refused' | 'unknownApplied' | 'unknownNotApplied';

export class ScriptedRegistry implements DeviceRegistryPort {
  devices = new Map<string, RegistryEnablement>();
  /** A registry device's `externalDeviceId` (the hub device ID it stands for), where the test sets one. */
  externalIds = new Map<string, string>();
  ca: RegistryCertificateAuthority = {
    namespaceName: NS,
    name: 'ica-1',
    type: 'ICA',
    subject: 'CN=ica-1',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2031-01-01T00:00:00.000Z',
    provisioningState: 'Succeeded',
  };
  rotations = 0;
  posts = 0;
  patches = 0;
  loseAfter = new Set<string>();
  loseBefore = new Set<string>();
  rotateAnswers: RotateAnswer[] = [];

  private lose(what: string, when: 'before' | 'after') {
    const set = when === 'before' ? this.loseBefore : this.loseAfter;
    if (set.delete(what)) throw new TransientError(`${what}: connection reset (${when} it was applied)`, undefined);
  }

  /** What ADR does when it runs a rotation: a new certificate, valid from another date. */
  rotate() {
    this.rotations++;
    this.ca = {
      ...this.ca,
      notBefore: `2026-0${this.rotations + 1}-01T00:00:00.000Z`,
      notAfter: `2031-0${this.rotations + 1}-01T00:00:00.000Z`,
    };
  }

  async certificateAuthorities() {
    return [this.ca];
  }
  async certificateAuthority(_ns: string, name: string) {
    return name === this.ca.name ? { ...this.ca } : undefined;
  }
  async certificatePolicies() {
    return [];
  }
  async certificatePolicy() {
    return undefined;
  }
  async registryDevice(namespaceName: string, name: string): Promise<RegistryDevice | undefined> {
    const state = this.devices.get(name);
    const externalDeviceId = this.externalIds.get(name);
    return state && { namespaceName, name, enablementState: state, ...(externalDeviceId ? { externalDeviceId } : {}) };
  }
  async setDeviceEnablement(_ns: string, name: string, state: RegistryEnablement) {
    this.patches++;
    this.lose(`patch ${name}`, 'before');
    this.devices.set(name, state);
    this.lose(`patch ${name}`, 'after');
  }
  async revokeAndRotate() {
    this.posts++;
    const answer = this.rotateAnswers.shift();
    if (answer === 'throttled') throw new ThrottledError('POST revokeAndRotate: 429 TooManyRequests', 0);
    if (answer === 'refused') throw new ServiceError('POST revokeAndRotate: 400 InvalidState', 400, 'InvalidState');
    if (answer === 'unknownNotApplied')
      throw new OutcomeUnknownError('POST revokeAndRotate: accepted (202), outcome unknown', 'https://op/1');
    this.lose('rotate', 'before');
    this.rotate();
    if (answer === 'unknownApplied')
      throw new OutcomeUnknownError('POST revokeAndRotate: accepted (202), outcome unknown — poll 404', 'https://op/1');
    this.lose('rotate', 'after');
  }
}

export function adrSetup() {
  const store = new MemoryStore(partitionKeys);
  const registry = new ScriptedRegistry();
  const incidents = new CosmosIncidentRepository(store);
  const holds = new CosmosHoldRepository(store);
  const clock = manualClock(Date.parse('2026-11-25T10:00:00Z'));
  const deps = {
    incidents: async () => incidents,
    holds: async () => holds,
    store: async () => store,
    events: async () => ({ publish: async () => undefined }),
    deviceRegistry: async () => registry,
    adrNamespace: NS,
    clock,
    jobPollMs: 1,
    retry: { sleep: async () => undefined },
  } as unknown as IncidentDeps;
  const audits = () =>
    store
      .container(CONTAINERS.audit.name)
      .query('SELECT * FROM c')
      .then(
        (p) =>
          p.items as unknown as Array<{
            id: string;
            action: string;
            target: { id: string };
            actor: string;
            after?: unknown;
          }>,
      );
  return { store, registry, incidents, holds, deps, audits, clock };
}

export const progress = (total: number) => ({
  state: 'running' as const,
  done: 0,
  total,
  page: 0,
  offset: 0,
  errors: [],
});

export async function incidentWith(
  { incidents }: ReturnType<typeof adrSetup>,
  id: string,
  steps: StepState[],
  targets: Target[] = [],
): Promise<Incident> {
  const request = { id, reason: 'leak', mode: 'quarantine' as const, scope: { deviceIds: ['x'] } };
  const incident = newIncident(request, 'admin', 'http', '2026-11-25T00:00:00Z');
  incident.status = 'running';
  incident.steps = steps;
  incident.resolution = { ...incident.resolution, phase: 'done', pages: targets.length ? 1 : 0 };
  await incidents.create(incident);
  if (targets.length) await incidents.putTargets(id, 0, targets);
  return (await incidents.get(id)) as Incident;
}

export const rotateStep = (): StepState => ({
  kind: 'adrRotate',
  namespaceName: NS,
  certificateAuthorityName: 'ica-1',
  certificatePolicy: `${NS}/ica-1/policy-1`,
  ...progress(1),
});
