export { createMcpServerFactory, type McpServerOptions } from './server-factory.js';
export { serveMcpOverStdio, type StdioMcpServer, type StdioServeOptions } from './stdio.js';
export { createMcpHttpEndpoint, type McpHttpEndpoint, type McpHttpOptions } from './http.js';
export { createToolListing, USAGE_META_KEY, type DescriptionMode } from './tool-listing.js';
export { errorResult, errorText, successResult } from './call-result.js';
