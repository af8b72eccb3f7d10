/** Allocation's face to the other capabilities: the deny list's vocabulary, and the parsed DPS request. */
export type { DecisionCountRepository } from './decision-counts';
export type { Parsed } from './rules/contract';
export * from './rules/deny-list';
