// Loaded before every spec file (vitest.config.ts, setupFiles).
import { captureLogs } from './logger.js';

captureLogs();
