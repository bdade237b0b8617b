export * from './alerts.js';
export * from './baseline.js';
export * from './detector.js';
export * from './localday.js';
export * from './reading.js';
export * from './ruleset.js';
