export {
  CATEGORIES,
  CLOSED_TYPES,
  PARAM_TYPES,
  PLATFORMS,
  VALUE_FORMS,
  commandFileSchema,
  commandSchema,
  paramSchema,
  templateElementSchema,
  type Category,
  type CommandSpec,
  type ParamSpec,
  type ParamType,
  type Platform,
  type TemplateElement,
  type ValueForm,
} from './catalogue-schema.js';
export { buildCatalogue, catalogue, commandProblems, findCommand, getCommand, listCommands, searchCommands, type Catalogue, type CommandSource } from './catalogue.js';
export { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, rankCommands, type SearchHit, type SearchOptions } from './search.js';
export { checkParamValue, validateParams, type ParamIssue, type ParamRule, type ParamValue, type ResolvedParams } from './params.js';
export { renderCommand, type ArgvSource, type RenderedCommand } from './render.js';
export { CHAIN_MODES, chainSchema, type ChainMode, type ChainSpec, type ChainStep } from './chain-schema.js';
export { findChain, getChain, listChains, parseChains, renderChain, type ChainPlan, type CommandLookup, type PlannedStep } from './chains.js';
export { missingExecutables } from './availability.js';
export {
  CHAIN_STATUSES,
  MAX_PARALLEL,
  STEP_STATUSES,
  STEP_STREAM_BYTES,
  capStream,
  commandPermission,
  missingMessage,
  runChain,
  type ChainContext,
  type ChainResult,
  type ChainRunOptions,
  type ChainStatus,
  type StepResult,
  type StepStatus,
} from './chain-run.js';
export { bashgodTools, templateLine } from './tools.js';
export { bashgodServer } from './server.js';
