/** The registry transport's classes, for code that drives it directly (loaded with it). */
export { RegistryClient } from './client.js';
export { RegistrySource } from './source.js';
