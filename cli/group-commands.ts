/**
 * `dps-lifecycle group create ID [--certificate-policy ns/ca/policy] [--ca-certificate FILE.pem] [--tag k=v …]`: an
 * enrollment group allocated by this backend's webhook, as an operator with the Admin role creates it; naming an
 * ADR certificate policy has DPS issue its devices certificates from that policy. Symmetric key unless a CA
 * certificate is given; the group's keys are read in DPS, never printed here.
 */
import { readFileSync } from 'node:fs';

import type { Command } from 'commander';

import type { GroupView } from '../shared/groups';
import { api, clientConfig } from './client';

const collect = (value: string, previous: string[]) => [...previous, value];

export function addGroupCommands(program: Command): void {
  const group = program.command('group').description('enrollment groups (the Admin role)');
  group
    .command('create')
    .argument('<id>', 'the enrollment group ID')
    .option('--certificate-policy <ns/ca/policy>', 'the ADR certificate policy its devices get certificates from')
    .option('--ca-certificate <file>', 'an X.509 group: the CA certificate (PEM) its devices chain to')
    .option('--tag <name=value>', 'a tag of its devices’ twins (repeatable)', collect, [])
    .action(async (id: string, opts: { certificatePolicy?: string; caCertificate?: string; tag: string[] }) => {
      const tags = Object.fromEntries(
        opts.tag.map((t) => {
          const at = t.indexOf('=');
          if (at < 1) throw new Error(`--tag ${t}: expected name=value`);
          return [t.slice(0, at), t.slice(at + 1)];
        }),
      );
      const body = {
        attestation: opts.caCertificate
          ? { type: 'x509', caCertificate: readFileSync(opts.caCertificate, 'utf8') }
          : { type: 'symmetricKey' },
        ...(opts.certificatePolicy ? { certificatePolicy: opts.certificatePolicy } : {}),
        ...(opts.tag.length ? { tags } : {}),
      };
      const { status, body: view } = await api<GroupView>(
        clientConfig(),
        `/api/enrollment-groups/${encodeURIComponent(id)}`,
        {
          method: 'PUT',
          admin: true,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        },
      );
      console.log(
        `enrollment group ${view.enrollmentGroupId} ${status === 201 ? 'created' : 'already made by this request'}: ${view.attestation}, ${view.certificatePolicy ? `certificates from ${view.certificatePolicy}` : 'no certificate policy'}, webhook told under ${view.webhookApiVersion}`,
      );
    });
}
