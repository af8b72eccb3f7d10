/**
 * Device certificates seen at allocation (`deviceRuntimeContext.x509`) go into the inventory: DPS lists no device
 * certificate of a group, so this is where the inventory learns them. Off the webhook's hot path: written after the
 * answer, at most a few at a time, and a certificate already recorded by this instance is not written again.
 */
import type { X509CertificateInfo } from '../dps-types';
import type { DocumentStore, EventsPort } from '../ports';
import { recordCertificates } from './inventory';
import type { CertificateRepository } from './inventory-store';
import { recordFromInfo } from './rules/record';

const REMEMBERED = 50_000;
const IN_FLIGHT = 8;

export function deviceCertificateRecorder(
  inventory: () => Promise<CertificateRepository>,
  store: () => Promise<DocumentStore>,
  events: () => Promise<EventsPort>,
  log: (line: string) => void,
) {
  const seen = new Set<string>();
  let inFlight = 0;
  return (x509: Record<string, unknown>, registrationId: string, hub: string): void => {
    const info = x509 as unknown as X509CertificateInfo;
    if (typeof info.sha256Thumbprint !== 'string' || typeof info.notAfterUtc !== 'string') return;
    const key = `${info.sha256Thumbprint}|${registrationId}|${hub}`;
    if (seen.has(key) || inFlight >= IN_FLIGHT) return; // a busy instance skips: the device's next registration tells again
    if (seen.size >= REMEMBERED) seen.clear();
    seen.add(key);
    inFlight++;
    void Promise.all([inventory(), store(), events()])
      .then(([i, s, e]) =>
        recordCertificates(i, s, [recordFromInfo(info, { kind: 'device', id: registrationId, hub })], { events: e }),
      )
      .catch((err: unknown) => {
        seen.delete(key);
        log(`inventory: device certificate of ${registrationId} not recorded: ${String(err)}`);
      })
      .finally(() => {
        inFlight--;
      });
  };
}
