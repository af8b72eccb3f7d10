/** Enrollment groups an operator creates through the backend (with an ADR certificate policy, if it names one). */
export { createGroup, type CreateGroupResult, type GroupDeps, type GroupView } from './create';
export { type GroupRequest, parseGroupRequest } from './rules/group';
