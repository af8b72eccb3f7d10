/**
 * DPS's call of a custom allocation webhook, as DPS makes it: the AllocationRequest POSTed to the enrollment's
 * webhook; 200 with a linked hub assigns; 401 fails (400209), any other 4xx below 429 fails (400207); 429, every 5xx
 * and no answer are retried, ten times, 1 s first and 9 s more each time.
 */
import type { EnrollmentGroup, IndividualEnrollment, TwinState } from '../../shared/dps-types';
import { knowsIssuance, withoutNames } from './adr-link';
import type { Source } from './attestation';

export interface WebhookRetry {
  attempts: number;
  firstDelayMs: number;
  incrementMs: number;
}

export interface Allocation {
  hub?: string;
  initialTwin?: TwinState;
  payload?: unknown;
  error?: { errorCode: number; errorMessage: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Strips secrets DPS does not hand to the webhook (symmetric keys) and our private fields. */
export function enrollmentForWebhook<T extends IndividualEnrollment | EnrollmentGroup>(e: T): T {
  // The enrollment follows customAllocationDefinition.apiVersion: before 2026-11-01 it has no ADR policy names.
  const copy = JSON.parse(
    JSON.stringify(knowsIssuance(e.customAllocationDefinition?.apiVersion) ? e : withoutNames(e)),
  ) as T;
  if (copy.attestation.symmetricKey) copy.attestation.symmetricKey = {};
  return copy;
}

export async function callWebhook(
  ctx: { webhook: { timeoutMs: number; retry: WebhookRetry } },
  source: Source,
  body: unknown,
  linked: string[],
): Promise<Allocation> {
  const url = (source.individual ?? source.group).customAllocationDefinition?.webhookUrl as string;
  const { attempts, firstDelayMs, incrementMs } = ctx.webhook.retry;
  let lastStatus = 0;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await sleep(firstDelayMs + (attempt - 1) * incrementMs);
    let status: number;
    let text = '';
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(ctx.webhook.timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch {
      status = 0; // unreachable or timed out: DPS retries
    }
    lastStatus = status;
    if (status === 200) {
      let answer: { iotHubHostName?: string; initialTwin?: TwinState; payload?: unknown };
      try {
        answer = JSON.parse(text);
      } catch {
        return {
          error: {
            errorCode: 400207,
            errorMessage: 'Custom allocation failed: the webhook answered 200 with a body that is not JSON.',
          },
        };
      }
      if (!answer.iotHubHostName)
        return {
          error: {
            errorCode: 400208,
            errorMessage: 'Custom allocation webhook did not specify an IoT hub (CustomAllocationIotHubNotSpecified).',
          },
        };
      const hub = linked.find((h) => h.toLowerCase() === answer.iotHubHostName?.toLowerCase());
      if (!hub)
        return {
          error: {
            errorCode: 400207,
            errorMessage: `Custom allocation failed: ${answer.iotHubHostName} is not a linked IoT hub.`,
          },
        };
      return { hub, initialTwin: answer.initialTwin, payload: answer.payload };
    }
    if (status === 401)
      return {
        error: {
          errorCode: 400209,
          errorMessage: 'Custom allocation webhook refused our call (CustomAllocationUnauthorizedAccess).',
        },
      };
    if (status !== 0 && status < 429)
      return {
        error: {
          errorCode: 400207,
          errorMessage: `Custom allocation failed with status code ${status}: ${text.slice(0, 500)}`,
        },
      };
  }
  return {
    error: {
      errorCode: 400207,
      errorMessage: `Custom allocation failed after ${attempts} attempts (last status ${lastStatus || 'unreachable'}).`,
    },
  };
}
