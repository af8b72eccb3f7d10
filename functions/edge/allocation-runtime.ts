/**
 * The process's allocation runtime, built by the composition root: the webhook decides from its snapshots, and
 * containment pushes deny entries into the same instance. Shared by the triggers that need it, so that no trigger
 * file imports another.
 */
export { allocationRuntime } from '../../shared/composition';
