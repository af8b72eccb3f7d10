/**
 * Pacing calls to a throttled service so that they reach what it really allows without hammering it: the rule
 * (`rules/pace.ts`), one process's side of the shared pace (`pacer.ts`), DPS's port paced (`paced-enrollments.ts`).
 */
export { pacedEnrollments } from './paced-enrollments';
export { Pacer, type PacerDeps, type PaceRepository, type Ticket } from './pacer';
export { type Pace, PACE_RULE, type PaceSettings } from './rules/pace';
