export * from './model.js';
export { findUnapprovedChanges } from './queries.js';
export * from './changeRequestSteps.js';
