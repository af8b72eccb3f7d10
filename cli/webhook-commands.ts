/**
 * `dps-lifecycle webhook rotate-key [--webhook-url URL] [--state FILE]`: a new key for the allocation webhook, written
 * into every custom-allocation enrollment and group that calls it, and the old keys removed once none carries them.
 * In Azure it acts with the operator's identity (az login) on the app named by azd's environment
 * (AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME, AZURE_KEY_VAULT_NAME, SERVICE_API_URL,
 * DPS_HOST_NAME); against `npm start` it uses the local stack. Run it again with the same state file to resume.
 */
import { readFile, writeFile } from 'node:fs/promises';

import type { Command } from 'commander';

import { lazyServices, webhookKeyAdapters, type WebhookKeyTarget } from '../shared/composition';
import { rotateWebhookKey, type RotationState } from '../shared/webhook-keys';
import { localSettings } from './client';

function target(env: NodeJS.ProcessEnv, local: Record<string, string>): WebhookKeyTarget {
  if (env.AZURE_SUBSCRIPTION_ID)
    return {
      kind: 'azure',
      subscriptionId: env.AZURE_SUBSCRIPTION_ID,
      resourceGroup: env.AZURE_RESOURCE_GROUP ?? '',
      appName: env.AZURE_FUNCTION_APP_NAME ?? '',
      vaultName: env.AZURE_KEY_VAULT_NAME ?? '',
      env,
    };
  return {
    kind: 'local',
    hostUrl: env.DPS_LIFECYCLE_URL ?? 'http://127.0.0.1:7071',
    masterKey: env.DPS_LIFECYCLE_MASTER_KEY ?? local.DEV_MASTER_KEY ?? '',
    secretsFile: '.data/secrets.json',
  };
}

export function addWebhookCommands(program: Command): void {
  program
    .command('webhook')
    .description('the allocation webhook')
    .command('rotate-key')
    .description('a new webhook key in every enrollment; the old keys go once none carries them')
    .option(
      '--webhook-url <url>',
      'the webhook as enrollments call it (default: SERVICE_API_URL/api/allocate, or the local host)',
    )
    .option('--state <file>', 'where the rotation keeps its state between runs', '.data/webhook-key-rotation.json')
    .action(async (opts: { webhookUrl?: string; state: string }) => {
      const local = localSettings();
      const where = target(process.env, local);
      if (where.kind === 'azure' && (!where.resourceGroup || !where.appName || !where.vaultName))
        throw new Error(
          'AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME and AZURE_KEY_VAULT_NAME are required (azd env get-values)',
        );
      const base =
        opts.webhookUrl ??
        (where.kind === 'azure'
          ? `${process.env.SERVICE_API_URL ?? ''}/api/allocate`
          : `${where.hostUrl}/api/allocate`);
      const { keys, secrets } = await webhookKeyAdapters(where);
      const env = where.kind === 'azure' ? process.env : { ...local, ...process.env };
      const state = await rotateWebhookKey(
        {
          enrollments: await lazyServices(env).enrollments(),
          keys,
          secrets,
          state: {
            load: async () =>
              JSON.parse(await readFile(opts.state, 'utf8').catch(() => 'null')) as RotationState | undefined,
            save: (s) => writeFile(opts.state, `${JSON.stringify(s, null, 2)}\n`),
          },
          log: (line) => console.log(line),
        },
        { webhookBase: base, secretName: 'allocation-webhook-url' },
      );
      const c = state.counts;
      console.log(
        `${state.phase === 'done' ? 'rotated' : 'not finished'}: key ${state.newKeyName}; ${c.rewritten} rewritten, ${c.alreadyNew} already new, ${c.failed} failed, ${c.stillOld} still on an old key; ${state.phase === 'done' ? `old keys removed: ${state.oldKeyNames.join(', ') || 'none'}` : 'old keys kept'}`,
      );
      for (const f of state.failures.slice(0, 20)) console.log(`  ${f.kind} ${f.id}: ${f.reason}`);
      if (state.phase !== 'done') process.exitCode = 1;
    });
}
