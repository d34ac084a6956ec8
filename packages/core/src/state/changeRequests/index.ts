export * from './model.js';
export { findApprovalsOfChanges } from './queries.js';
export * from './changeRequestSteps.js';
