/** Service limits the use cases batch by (documented; the adapters enforce them too). */
/** IoT Hub bulk registry operations take at most 100 devices. */
export const HUB_BATCH = 100;
/** The DPS service SDK's maintainers cap bulk enrollment operations at 10. */
export const DPS_BATCH = 10;
/**
 * DPS has no bulk delete of registration records, nor of single enrollments' changes: containment sends them one by
 * one, this many in flight (the shared pace still spaces them to DPS's quota: shared/pacing), a checkpoint per batch.
 */
export const DPS_SINGLE_IN_FLIGHT = 10;
/** Registration records deleted between two checkpoints of the step (each one's delete and audit record are idempotent). */
export const REGISTRATION_BATCH = 50;
