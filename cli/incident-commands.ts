/**
 * `dps-lifecycle incident report FILE.json | show ID | approve ID | cancel ID | release ID | redrive ID [--follow]`:
 * breach incidents, as an operator with the Admin role drives them. `show` prints the plan — devices per hub, what DPS
 * will be told, a sample of IDs — while it waits for approval.
 */
import { readFileSync } from 'node:fs';

import type { Command } from 'commander';

import type { Incident } from '../shared/incidents/rules/model';
import { api, type ClientConfig, clientConfig } from './client';
import { follow } from './follow';

type IncidentView = Omit<Incident, 'resolution'> & { resolution: { phase: string; pages: number } };

/** Statuses a follower stops at: the incident waits for someone, or has ended. */
const SETTLED = ['awaitingApproval', 'quarantined', 'contained', 'failed', 'nothingFound', 'cancelled', 'released'];

export function describeIncident(doc: IncidentView): string[] {
  const lines = [`incident ${doc.id}: ${doc.status} (${doc.request.mode}, submitted by ${doc.submittedBy})`];
  if (doc.approvedBy) lines.push(`  approved by ${doc.approvedBy}`);
  else if (doc.approval && doc.status === 'awaitingApproval')
    lines.push(
      `  approval: ${doc.approval.otherAdmin ? `an admin other than ${doc.submittedBy}` : 'any admin'} (${doc.approval.why})`,
    );
  const plan = doc.plan;
  if (plan) {
    lines.push(`  plan: ${plan.devices} devices${plan.withoutHub ? ` (${plan.withoutHub} on no hub)` : ''}`);
    for (const h of plan.hubActions) lines.push(`    ${h.hub.padEnd(40)} ${h.action} ${h.devices} devices (${h.path})`);
    lines.push(
      `    DPS: ${plan.groupsToDisable.length} groups disabled${plan.groupsToDisable.length ? ` (${plan.groupsToDisable.join(', ')})` : ''}, ${plan.enrollmentsToDisable} enrollments disabled, ${plan.groupDevicesToBlock} group devices blocked${plan.deleteRegistrationRecords ? `, ${plan.deleteRegistrationRecords} registration records deleted` : ''}`,
    );
    if (plan.disallowCa)
      lines.push(
        `    DPS disallows the CA ${plan.disallowCa.thumbprint} (disabled group ${plan.disallowCa.enrollmentGroupId})`,
      );
    if (plan.adr?.devicesToCheck)
      lines.push(
        `    ADR: ${plan.adr.devicesToCheck} devices' registry entries checked in ${plan.adr.namespaceName}, disabled where found`,
      );
    if (plan.adr?.revokeAndRotate)
      lines.push(
        `    ADR: revoke and rotate ${plan.adr.revokeAndRotate.certificatePolicy}`,
        `    ${plan.adr.revokeAndRotate.warning}`,
      );
    if (plan.sample.length) lines.push(`    e.g. ${plan.sample.slice(0, 10).join(', ')}`);
    if (plan.notFound?.count)
      lines.push(`    not found (${plan.notFound.count}): ${plan.notFound.sample.slice(0, 10).join(', ')}`);
  } else lines.push(`  resolving: ${doc.resolution.phase}, ${doc.resolution.pages} pages of devices found`);
  if (doc.status === 'awaitingApproval')
    lines.push(`  waiting: dps-lifecycle incident approve ${doc.id}   (or cancel ${doc.id})`);
  for (const s of doc.steps ?? [])
    lines.push(
      `  ${s.kind.padEnd(14)}${(s.kind === 'hub' ? `${s.hub} ${s.action}/${s.path}` : s.kind === 'adrRotate' ? `${s.certificatePolicy} (irreversible)` : '').padEnd(48)} ${s.state.padEnd(8)} ${s.done}/${s.total}${s.errors.length ? `  errors: ${s.errors.slice(0, 3).join('; ')}` : ''}`,
    );
  for (const note of doc.notes) lines.push(`  note: ${note}`);
  return lines;
}

const path = (id: string, action = '') => `/api/incidents/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;

async function followIncident(config: ClientConfig, id: string): Promise<void> {
  let last: IncidentView | undefined;
  await follow(async () => {
    last = (await api<IncidentView>(config, path(id), { admin: true })).body;
    const total = (last.steps ?? []).reduce((n, s) => n + s.total, 0);
    const done = (last.steps ?? []).reduce((n, s) => n + s.done, 0);
    return {
      done: SETTLED.includes(last.status),
      percent: total ? (done / total) * 100 : 0,
      line: `${last.status} ${done}/${total}`,
    };
  });
  console.log(describeIncident(last as IncidentView).join('\n'));
}

export function addIncidentCommands(program: Command): void {
  const incident = program.command('incident').description('breach incidents (the Admin role)');
  const print = async (body: IncidentView, opts: { follow?: boolean }) => {
    console.log(describeIncident(body).join('\n'));
    if (opts.follow) await followIncident(clientConfig(), body.id);
  };

  incident
    .command('report')
    .argument('<file>', 'incident JSON: { id, reason, mode, scope }')
    .option('--follow', 'until its plan is ready (or it has run)')
    .action(async (file: string, opts: { follow?: boolean }) => {
      const { body } = await api<IncidentView>(clientConfig(), '/api/incidents', {
        method: 'POST',
        admin: true,
        headers: { 'content-type': 'application/json' },
        body: readFileSync(file, 'utf8'),
      });
      await print(body, opts);
    });

  incident
    .command('show')
    .argument('<id>')
    .option('--follow')
    .action(async (id: string, opts: { follow?: boolean }) => {
      if (opts.follow) return followIncident(clientConfig(), id);
      console.log(
        describeIncident((await api<IncidentView>(clientConfig(), path(id), { admin: true })).body).join('\n'),
      );
    });

  for (const [action, what] of [
    ['approve', 'run the plan'],
    ['cancel', 'drop it before approval'],
    ['release', 'lift what it holds, once it has run'],
    ['redrive', 'try again the steps that gave up on an outage (or queue a stalled incident again)'],
  ] as const)
    incident
      .command(action)
      .description(what)
      .argument('<id>')
      .option('--follow')
      .action(async (id: string, opts: { follow?: boolean }) => {
        const { body } = await api<IncidentView>(clientConfig(), path(id, action), { method: 'POST', admin: true });
        await print(body, opts);
      });
}
