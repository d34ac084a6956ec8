export * from './model.js';
export { isApprovedChange } from './queries.js';
export * from './changeRequestSteps.js';
