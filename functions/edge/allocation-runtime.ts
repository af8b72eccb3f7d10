/**
 * The process's allocation runtime: the webhook decides from its snapshots, and containment pushes deny entries into
 * the same instance so this process refuses a revoked device at once. Shared by the triggers that need it, so that no
 * trigger file imports another.
 */
import { AllocationRuntime } from '../../shared/allocation/runtime';
import { allocationSources, POLICY_DOCUMENT_ID } from '../../shared/allocation/sources';
import { deviceCertificateRecorder } from '../../shared/certificates/device-certificates';
import { appMetrics, configDocument, services } from '../../shared/composition';

let runtime: AllocationRuntime | undefined;

export function allocationRuntime(): AllocationRuntime {
  const s = services();
  runtime ??= new AllocationRuntime(
    allocationSources(configDocument(process.env, 'allocationPolicyFile', POLICY_DOCUMENT_ID, s), s, s.denyList),
    {
      log: (line) => console.log(line),
      metrics: appMetrics(),
      onDeviceCertificate: deviceCertificateRecorder(
        () => s.certificates(),
        () => s.store(),
        () => s.events(),
        (line) => console.log(line),
      ),
    },
  );
  return runtime;
}
