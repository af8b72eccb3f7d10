/** Starts the local stack for an integration test: free ports, in memory, from the committed example settings. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { LocalSettings } from '../../dev/local-settings';
import { type LocalStack, type StackOptions, startLocalStack } from '../../dev/stack';
import { buildServices, type Services } from '../../shared/composition';
import { checkExchange } from '../contract/exchanges';

const ROOT = join(__dirname, '..', '..');
export const EXAMPLE_SETTINGS = JSON.parse(
  readFileSync(join(ROOT, 'local.settings.example.json'), 'utf8'),
) as LocalSettings;
for (const name of ['ALLOCATION_POLICY_FILE', 'MANUFACTURERS_FILE'])
  EXAMPLE_SETTINGS.Values[name] = join(ROOT, EXAMPLE_SETTINGS.Values[name]);

export interface TestStack extends LocalStack {
  services: Services;
  dataDir: string;
}

/** Quotas high enough that functional tests never meet them; throttling tests set their own. */
const UNTHROTTLED = {
  dpsOperationsPerMinute: 1e7,
  dpsRegistrationsPerMinute: 1e7,
  registryOpsPerMinutePerUnit: 1e7,
  // Devices here poll every 50 ms (DEVICE_POLL_INTERVAL_MS below), not DPS's pace.
  devicePollsPer10Seconds: 1e7,
};

/**
 * Every test stack checks every exchange with the simulator against the published contract (test/contract/), and
 * its test file fails at close, naming each call that broke it: no test passes on a shape Azure would not send.
 */
export async function startTestStack(options: Partial<StackOptions> = {}): Promise<TestStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dpsl-'));
  const broken: string[] = [];
  const stack = await startLocalStack(EXAMPLE_SETTINGS, {
    dataDir,
    persistent: false,
    withStorage: false,
    pollAfterSeconds: 0,
    ...options,
    quotas: { ...UNTHROTTLED, ...options.quotas },
    onExchange: (exchange) => {
      if (broken.length < 20) broken.push(...checkExchange(exchange));
      options.onExchange?.(exchange);
    },
  });
  const services = await buildServices(stack.env);
  return {
    ...stack,
    // The simulator sends no Retry-After here: its devices poll every 50 ms rather than the SDK's default 2 s.
    env: { ...stack.env, DEVICE_POLL_INTERVAL_MS: '50' },
    services,
    dataDir,
    close: async () => {
      await services.events.close();
      await stack.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (broken.length) throw new Error(`the published contract was broken:\n${broken.join('\n')}`);
    },
  };
}
