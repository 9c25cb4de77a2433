export { RISKS, anyTool, defineTool, type AnyTool, type Risk, type Tool, type ToolHints, type ToolServer, type ToolSpec } from './tool.js';
export type { ToolContext } from './context.js';
export { createToolRegistry, type JsonSchema, type ToolRegistry } from './registry.js';
export { createAdmission, isToolFault, type Admission, type AdmissionLimits } from './admission.js';
export {
  createInvoker,
  type CallOutcome,
  type ContextFactory,
  type InvokeOptions,
  type InvokeResult,
  type Invoker,
  type InvokerOptions,
  type ProgressUpdate,
  type ToolMetrics,
} from './invoke.js';
export { createToolEnvironment, type ToolEnvironment, type ToolEnvironmentOptions } from './environment.js';
export type { GuardedFs, FileInfo, DirEntry, EntryType, ReadResult } from './capabilities/guarded-fs.js';
export type { GuardedExec, CommandInput, CommandRun, CommandRunOptions } from './capabilities/guarded-exec.js';
export { BUILTIN_SERVERS, builtinRegistry } from './builtin.js';
export {
  APPROVAL_STATUSES,
  ApprovalRequiredError,
  actionHash,
  createApprovals,
  type ApprovalAction,
  type ApprovalStatus,
  type ApprovalView,
  type Approvals,
  type ApprovalsOptions,
} from './approvals.js';
