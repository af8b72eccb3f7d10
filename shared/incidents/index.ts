/** Breach containment: accept, resolve and plan, approve, run, cancel, release or re-drive — see docs/architecture.md. */
export { type Advanced, advanceIncident } from './advance';
export { connectedNow } from './connected';
export { decideIncident, type Decision, type DecisionResult } from './decide';
export { DEFAULT_AUTO_APPROVE_MAX_DEVICES, DEFAULT_BUDGET_MS, type IncidentDeps } from './deps';
export { redriveIncident } from './redrive';
export { recordRejectedAlert } from './rejected-alerts';
export type { DenyListRepository, Hold, HoldRepository, IncidentRepository, Restore } from './repositories';
export { noteStalled, whatIsLeft } from './stalled';
export { submitIncident, type SubmitResult } from './submit';
