/**
 * The services' quotas as the simulator enforces them: DPS's operations and registrations a minute, each hub's registry
 * operations a minute a unit (token buckets with a burst), and a device's operation-status polls in 10 s (a sliding
 * window), each refused with 429 and Retry-After in the service's own error shape; `throttled` counts the refusals.
 */
import { type BulkCounting, SlidingWindowLimit, TokenBucket } from './throttle';
import { HttpError } from './wire';

/** Documented defaults: DPS 1,000 operations and 1,000 registrations a minute; IoT Hub S1 100 registry operations a minute a unit. */
export const DEFAULT_QUOTAS = {
  dpsOperationsPerMinute: 1000,
  dpsRegistrationsPerMinute: 1000,
  registryOpsPerMinutePerUnit: 100,
  burstSeconds: 10,
  devicePollsPer10Seconds: 5,
  dpsBulkCounting: 'perEnrollment' as BulkCounting,
};

function charger(bucket: TokenBucket, throttled: (retryAfter: number) => HttpError): (n?: number) => void {
  return (n = 1) => {
    const taken = bucket.take(n);
    if (!taken.ok) throw throttled(taken.retryAfterSeconds);
  };
}

export interface QuotaOptions {
  dpsOperationsPerMinute?: number;
  dpsRegistrationsPerMinute?: number;
  registryOpsPerMinutePerUnit?: number;
  /** How many seconds of quota may be spent in one burst. */
  burstSeconds?: number;
  /** How a bulk enrollment call counts against `dpsOperationsPerMinute` (default `perEnrollment`, the cautious reading). */
  dpsBulkCounting?: BulkCounting;
  /** Operation-status polls a device may make in any 10 s (DPS: 5, not adjustable). */
  devicePollsPer10Seconds?: number;
}

export function simulatorQuotas<H extends { hostName: string; units: number }>(options: {
  quotas?: QuotaOptions;
  /** What the quotas refill by (simulator.ts: a test's own clock makes a 429 independent of the machine's speed). */
  clock?: () => number;
  hubs: H[];
}) {
  const quotas = { ...DEFAULT_QUOTAS, ...options.quotas };
  const throttled = { dpsOperations: 0, dpsRegistrations: 0, hubRegistry: 0 };
  const dpsThrottled = (kind: 'dpsOperations' | 'dpsRegistrations') => (s: number) => {
    throttled[kind]++;
    return new HttpError(429, 429001, 'Operations are being throttled for this tenant.', { 'retry-after': String(s) });
  };
  const bucket = (perMinute: number) => new TokenBucket(perMinute, quotas.burstSeconds, options.clock);
  const chargeDps = charger(bucket(quotas.dpsOperationsPerMinute), dpsThrottled('dpsOperations'));
  const chargeRegistration = charger(bucket(quotas.dpsRegistrationsPerMinute), dpsThrottled('dpsRegistrations'));
  const hubs = new Map(
    options.hubs.map((h) => [
      h.hostName.toLowerCase(),
      {
        config: h,
        charge: charger(
          bucket(quotas.registryOpsPerMinutePerUnit * h.units),
          (s) => (
            throttled.hubRegistry++,
            new HttpError(
              429,
              'ThrottlingException',
              'IoT hub throttling: identity registry operations exceeded the limit.',
              { 'retry-after': String(s) },
            )
          ),
        ),
      },
    ]),
  );
  const polls = new SlidingWindowLimit(quotas.devicePollsPer10Seconds, 10_000, options.clock);
  const chargePoll = (registrationId: string) => {
    const taken = polls.take(registrationId.toLowerCase());
    if (!taken.ok)
      throw new HttpError(429, 429001, 'A device may poll its operation status 5 times in 10 seconds.', {
        'retry-after': String(taken.retryAfterSeconds),
      });
  };
  return { quotas, throttled, chargeDps, chargeRegistration, hubs, chargePoll };
}
