import type { PathUse } from './command-catalogue.js';
import type { Decision, Severity } from './decision.js';
import { deny } from './decision.js';

/**
 * What the command rules find in one command: refusals, and the paths and URLs
 * it will touch, which the path and URL rules then judge.
 */
export class Findings {
  readonly hits: Decision[] = [];
  readonly paths: { op: PathUse; path: string; why: string }[] = [];
  readonly urls: { url: string; why: string }[] = [];

  deny(rule: string, severity: Severity, reason: string): void {
    this.hits.push(deny(rule, severity, reason));
  }

  path(op: PathUse, path: string, why: string): void {
    this.paths.push({ op, path, why });
  }

  url(url: string, why: string): void {
    this.urls.push({ url, why });
  }
}
