export { formatAlert, type FormatOptions } from './render.js';
