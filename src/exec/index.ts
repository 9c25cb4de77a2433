export { runScript, type RunOptions, type RunResult } from './run-script.js';
export { probeSandbox, sandboxPlan, type SandboxPlan, type SandboxProbe } from './sandbox.js';
export { createProcessLimiter, type ProcessLimiter } from './process-limiter.js';
export { createGuardedFetch, type GuardedFetch, type GuardedFetchInit, type GuardedFetchOptions, type GuardedResponse } from './net-fetch.js';
export { createProcessSessions, type ProcessSessions, type ProcessSessionsOptions, type SessionOutput, type SessionInfo } from './process-sessions.js';
export { argvLine, scriptLine } from './script-text.js';
