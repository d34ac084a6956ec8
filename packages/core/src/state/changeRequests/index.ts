export {
  type ChangeRequest,
} from './model.js';
export {  listChangeRequests } from './queries.js';
export {
  type ApprovalOutcome,
  approveChangeRequest,
  closeChangeRequest,
  type CloseOutcome,
  createChangeRequest,
} from './changeRequestSteps.js';
