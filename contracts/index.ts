export * from './common.js';
export * from './errors.js';
export * from './events.js';
export * from './http.js';
export * from './notification.js';
export * from './socket.js';
export * from './token.js';
export * from './ops.js';
