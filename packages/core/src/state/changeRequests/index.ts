export * from './model.js';
export { findApprovalsOfChanges, listChangeRequests } from './queries.js';
export * from './changeRequestSteps.js';
