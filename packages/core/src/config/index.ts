export { loadConfig, loadConfigOrExit, type Config, type NotificationSettings } from './loadConfig.js';
export { type RedisTopology } from './redisTopology.js';
export { ROLES, ROLE_TOKEN_VARIABLES, type Role, type RoleToken } from './roles.js';
