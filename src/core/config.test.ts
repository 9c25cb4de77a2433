import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONFIG_ENV_NAMES, CONFIG_FILE_NAME, RESERVED_ENV, loadConfig } from './config-load.js';
import { ValidationError } from './errors.js';

let dir: string;

beforeEach(() => {
  dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'ironcode-config-')));
  mkdirSync(path.join(dir, 'sub'));
  mkdirSync(path.join(dir, 'dir.yaml'));
  writeFileSync(path.join(dir, 'afile'), 'not a directory');
  writeFileSync(path.join(dir, 'custom.yaml'), 'name: custom\n');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(yaml: string, file = CONFIG_FILE_NAME): string {
  const target = path.join(dir, file);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, yaml);
  return target;
}

function loadError(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected loadConfig to throw');
}

interface InvalidCase {
  name: string;
  yaml?: string;
  env?: Record<string, string>;
  /** Every string must appear in the error message; the first is the field path. */
  expect: string[];
}

const invalid: InvalidCase[] = [
  // Unknown keys at every level, including near-miss typos.
  { name: 'typo at the top level', yaml: 'profle: strict\n', expect: ['profle', 'did you mean profile?', `${CONFIG_FILE_NAME}:1:1`] },
  { name: 'unknown top-level key', yaml: 'plugins: []\n', expect: ['plugins', 'unknown key'] },
  { name: 'typo in exec', yaml: 'exec:\n  limit: {}\n', expect: ['exec.limit', 'did you mean exec.limits?', `${CONFIG_FILE_NAME}:2:3`] },
  { name: 'typo in exec.limits', yaml: 'exec:\n  limits:\n    timeout: 1000\n', expect: ['exec.limits.timeout'] },
  { name: 'typo in log', yaml: 'log:\n  levle: info\n', expect: ['log.levle'] },
  { name: 'typo in server', yaml: 'server:\n  prot: 80\n', expect: ['server.prot'] },
  // Wrong types.
  { name: 'quoted number', yaml: 'server:\n  port: "8080"\n', expect: ['server.port', 'expected a number'] },
  { name: 'number for boolean', yaml: 'auth:\n  localOperator:\n    enabled: 1\n', expect: ['auth.localOperator.enabled', 'expected a boolean'] },
  { name: 'proxy that is not an address', yaml: 'server:\n  trustedProxies: [proxy.local]\n', expect: ['server.trustedProxies[0]', 'IP address or CIDR'] },
  { name: 'proxy prefix too long', yaml: 'server:\n  trustedProxies: [10.0.0.0/33]\n', expect: ['server.trustedProxies[0]'] },
  { name: 'cors wildcard', yaml: 'server:\n  corsOrigins: ["*"]\n', expect: ['server.corsOrigins[0]', 'no "*"'] },
  { name: 'cors origin with a path', yaml: 'server:\n  corsOrigins: [https://a.example/app]\n', expect: ['server.corsOrigins[0]'] },
  { name: 'local operator without roles', yaml: 'auth:\n  localOperator:\n    enabled: true\n', expect: ['auth.localOperator.roles', 'no roles'] },
  { name: 'access tokens too long-lived', yaml: 'auth:\n  accessTokenSeconds: 604800\n', expect: ['auth.accessTokenSeconds'] },
  { name: 'YAML 1.1 yes for boolean', yaml: 'exec:\n  network: yes\n', expect: ['exec.network'] },
  { name: 'scalar for list', yaml: 'roots: .\n', expect: ['roots', 'expected a list'] },
  { name: 'list for scalar', yaml: 'profile: [strict]\n', expect: ['profile'] },
  { name: 'scalar for mapping', yaml: 'log: info\n', expect: ['log', 'expected a mapping'] },
  { name: 'list for mapping', yaml: 'exec:\n  limits: [1]\n', expect: ['exec.limits'] },
  { name: 'null leaf', yaml: 'exec:\n  limits:\n    timeoutMs: ~\n', expect: ['exec.limits.timeoutMs', 'got null'] },
  { name: 'null section', yaml: 'server:\n', expect: ['server', 'got null'] },
  { name: 'number for path', yaml: 'dataDir: 5\n', expect: ['dataDir'] },
  { name: 'number in roots', yaml: 'roots: [1]\n', expect: ['roots[0]'] },
  // Out of range.
  { name: 'timeout below minimum', yaml: 'exec:\n  limits:\n    timeoutMs: 5\n', expect: ['exec.limits.timeoutMs: must be at least 100'] },
  { name: 'zero processes', yaml: 'exec:\n  limits:\n    maxProcesses: 0\n', expect: ['exec.limits.maxProcesses'] },
  { name: 'tiny output cap', yaml: 'exec:\n  limits:\n    maxOutputBytes: 10\n', expect: ['exec.limits.maxOutputBytes'] },
  { name: 'port too large', yaml: 'server:\n  port: 70000\n', expect: ['server.port: must be at most 65535'] },
  { name: 'negative port', yaml: 'server:\n  port: -1\n', expect: ['server.port'] },
  { name: 'fractional port', yaml: 'server:\n  port: 80.5\n', expect: ['server.port', 'whole number'] },
  { name: 'unknown log level', yaml: 'log:\n  level: verbose\n', expect: ['log.level', 'must be one of'] },
  { name: 'unknown log format', yaml: 'log:\n  format: text\n', expect: ['log.format'] },
  { name: 'unknown sandbox mode', yaml: 'exec:\n  sandbox: maybe\n', expect: ['exec.sandbox'] },
  { name: 'host with spaces', yaml: 'server:\n  host: "not a host"\n', expect: ['server.host'] },
  { name: 'host that is not an address', yaml: 'server:\n  host: 999.1.1.1\n', expect: ['server.host'] },
  // Roots.
  { name: 'empty roots', yaml: 'roots: []\n', expect: ['roots', 'at least one workspace root'] },
  { name: 'empty root string', yaml: 'roots: [""]\n', expect: ['roots[0]'] },
  { name: 'missing root', yaml: 'roots: [., ./missing]\n', expect: ['roots[1]', 'does not exist', `${CONFIG_FILE_NAME}:1:`] },
  { name: 'root is a file', yaml: 'roots: [./afile]\n', expect: ['roots[0]', 'not a directory'] },
  { name: 'root of /', yaml: 'roots: [/]\n', expect: ['roots[0]', 'a workspace root of / would expose the whole machine'] },
  { name: 'root climbing to /', yaml: `roots: [${'../'.repeat(40)}]\n`, expect: ['roots[0]', 'whole machine'] },
  { name: 'root /etc', yaml: 'roots: [/etc]\n', expect: ['roots[0]', '/etc'] },
  { name: 'root /proc', yaml: 'roots: [/proc]\n', expect: ['roots[0]', '/proc'] },
  { name: 'root /root', yaml: 'roots: [/root]\n', expect: ['roots[0]', '/root'] },
  { name: 'duplicate roots after resolution', yaml: 'roots: [sub, ./sub/, .]\n', expect: ['roots[1]', 'same directory as roots[0]'] },
  { name: 'dataDir is a file', yaml: 'dataDir: ./afile\n', expect: ['dataDir', 'not a directory'] },
  // Profiles.
  { name: 'unknown profile name', yaml: 'profile: paranoid\n', expect: ['profile', 'strict, standard, permissive'] },
  { name: 'custom profile not YAML', yaml: 'profile: ./custom.json\n', expect: ['profile', '.yaml or .yml'] },
  { name: 'custom profile missing', yaml: 'profile: ./missing.yml\n', expect: ['profile', 'does not exist'] },
  { name: 'custom profile is a directory', yaml: 'profile: ./dir.yaml\n', expect: ['profile', 'not a file'] },
  // Contradictions.
  { name: 'strict without sandbox', yaml: 'profile: strict\nexec:\n  sandbox: off\n', expect: ['exec.sandbox', 'profile: strict'] },
  { name: 'strict with preferred sandbox', yaml: 'profile: strict\nexec:\n  sandbox: preferred\n', expect: ['exec.sandbox', 'profile: strict'] },
  { name: 'strict with network', yaml: 'profile: strict\nexec:\n  network: true\n', expect: ['exec.network', 'profile: strict'] },
  {
    name: 'output cap above file cap',
    yaml: 'exec:\n  limits:\n    maxOutputBytes: 4096\n    maxFileBytes: 2048\n',
    expect: ['exec.limits.maxOutputBytes', 'exec.limits.maxFileBytes'],
  },
  // Broken files.
  { name: 'unclosed flow list', yaml: 'roots: [.\nprofile: strict\n', expect: [`${CONFIG_FILE_NAME}:`, 'invalid YAML'] },
  { name: 'bad indentation', yaml: 'log:\n  level: info\n format: json\n', expect: [`${CONFIG_FILE_NAME}:3:`, 'invalid YAML'] },
  { name: 'duplicate keys', yaml: 'profile: strict\nprofile: standard\n', expect: [`${CONFIG_FILE_NAME}:2:1`, 'unique'] },
  { name: 'top level is a list', yaml: '- profile: strict\n', expect: ['top level must be a mapping', 'got a list'] },
  { name: 'top level is a scalar', yaml: 'strict\n', expect: ['top level must be a mapping'] },
  { name: 'two documents', yaml: 'profile: strict\n---\nprofile: standard\n', expect: [`${CONFIG_FILE_NAME}:`, 'invalid YAML'] },
  // The environment.
  { name: 'env number', env: { IRONCODE_SERVER_PORT: 'eighty' }, expect: ['server.port', 'IRONCODE_SERVER_PORT', 'expected a number'] },
  { name: 'env boolean', env: { IRONCODE_EXEC_NETWORK: 'yes' }, expect: ['exec.network', 'IRONCODE_EXEC_NETWORK'] },
  { name: 'env boolean is case-sensitive', env: { IRONCODE_AUTH_LOCAL_OPERATOR_ENABLED: 'TRUE' }, expect: ['auth.localOperator.enabled', 'IRONCODE_AUTH_LOCAL_OPERATOR_ENABLED'] },
  { name: 'env out of range', env: { IRONCODE_EXEC_LIMITS_TIMEOUT_MS: '50' }, expect: ['IRONCODE_EXEC_LIMITS_TIMEOUT_MS: exec.limits.timeoutMs: must be at least 100'] },
  { name: 'env enum', env: { IRONCODE_LOG_LEVEL: 'loud' }, expect: ['IRONCODE_LOG_LEVEL: log.level'] },
  { name: 'env empty', env: { IRONCODE_DATA_DIR: '' }, expect: ['dataDir', 'IRONCODE_DATA_DIR', 'empty'] },
  { name: 'env missing root', env: { IRONCODE_ROOTS: `${path.delimiter}nowhere` }, expect: ['roots[0]', 'IRONCODE_ROOTS', 'does not exist'] },
  {
    name: 'unknown IRONCODE_ variable',
    env: { IRONCODE_LOG_LEVLE: 'debug' },
    expect: ['IRONCODE_LOG_LEVLE', 'did you mean IRONCODE_LOG_LEVEL?', 'IRONCODE_EXEC_LIMITS_TIMEOUT_MS', 'IRONCODE_API_KEY'],
  },
  {
    name: 'contradiction across file and env',
    yaml: 'exec:\n  sandbox: off\n',
    env: { IRONCODE_PROFILE: 'strict' },
    expect: ['exec.sandbox', `${CONFIG_FILE_NAME}:2:3`],
  },
];

describe('loadConfig rejects invalid configuration', () => {
  it('has a large table', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(40);
  });

  it.each(invalid)('$name', ({ yaml, env, expect: expected }) => {
    if (yaml !== undefined) writeConfig(yaml);
    const error = loadError(() => loadConfig({ cwd: dir, env: env ?? {} }));
    for (const text of expected) expect(error.message).toContain(text);
    expect(error.code).toBe('IRON_VALIDATION');
    expect(error.issues.length).toBeGreaterThan(0);
  });

  it('rejects the parent of the home directory as a root', () => {
    writeConfig(`roots: [${path.dirname(homedir())}]\n`);
    expect(loadError(() => loadConfig({ cwd: dir, env: {} })).message).toContain('roots[0]: a workspace root of');
  });

  it('lists every issue, not only the first', () => {
    writeConfig('profle: strict\nserver:\n  port: x\nlog:\n  level: loud\n');
    const error = loadError(() => loadConfig({ cwd: dir, env: { IRONCODE_EXEC_NETWORK: 'maybe' } }));
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(['exec.network', 'log.level', 'profle', 'server.port']);
    expect(error.message).toContain('4 issues');
  });

  it('requires an explicit config file to exist', () => {
    const error = loadError(() => loadConfig({ cwd: dir, env: {}, configPath: 'missing.yaml' }));
    expect(error.message).toContain(path.join(dir, 'missing.yaml'));
    expect(error.message).toContain('not found');
  });

  it('requires the IRONCODE_CONFIG file to exist', () => {
    const error = loadError(() => loadConfig({ cwd: dir, env: { IRONCODE_CONFIG: 'gone.yaml' } }));
    expect(error.message).toContain(path.join(dir, 'gone.yaml'));
  });

  it('names the command line as the source of bad overrides', () => {
    // Flags arrive untyped from the command line, so the loader validates them like any source.
    const error = loadError(() => loadConfig({ cwd: dir, env: {}, overrides: { server: { port: 'x' } } as never }));
    expect(error.message).toContain('command-line override: server.port');
  });
});

describe('loadConfig accepts valid configuration', () => {
  const defaults = () => ({
    profile: 'standard',
    roots: [dir],
    dataDir: path.join(dir, '.ironcode'),
    log: { level: 'info', format: 'json' },
    exec: { limits: {} },
    server: {
      host: '127.0.0.1',
      port: 7400,
      trustedProxies: [],
      allowedHosts: [],
      corsOrigins: [],
      bodyLimitBytes: 1024 * 1024,
      rateLimit: { windowSeconds: 60, perIp: 600, perPrincipal: 1200, authPerIp: 30 },
    },
    auth: {
      issuer: 'ironcode',
      audience: 'ironcode',
      accessTokenSeconds: 900,
      refreshTokenSeconds: 30 * 86_400,
      signingKeyRotationSeconds: 30 * 86_400,
      passwordMinLength: 12,
      lockout: { maxFailures: 5, windowSeconds: 900, lockSeconds: 1800 },
      localOperator: { enabled: false, name: 'local-operator', roles: [] },
    },
    store: { sqliteSynchronous: 'normal' },
    audit: { maxBatch: 512 },
    tools: {
      perPrincipal: { ratePerSecond: 100, burst: 1000, concurrency: 32 },
      perTool: { ratePerSecond: 2000, burst: 4000, concurrency: 64 },
      breaker: { consecutiveFailures: 5, halfOpenAfterSeconds: 30 },
      sessions: { max: 64, ttlSeconds: 600, maxLifetimeSeconds: 3600 },
    },
  });

  it('uses the defaults when there is no config file', () => {
    expect(loadConfig({ cwd: dir, env: {} })).toEqual(defaults());
  });

  it('treats an empty file and a comment-only file as defaults', () => {
    writeConfig('');
    expect(loadConfig({ cwd: dir, env: {} })).toEqual(defaults());
    writeConfig('# nothing here yet\n');
    expect(loadConfig({ cwd: dir, env: {} })).toEqual(defaults());
  });

  it('lets the environment win over the file and flags win over both', () => {
    writeConfig('log:\n  level: debug\nserver:\n  port: 9000\n  trustedProxies: [10.0.0.1]\n');
    const env = { IRONCODE_LOG_LEVEL: 'warn', IRONCODE_SERVER_PORT: '9100', IRONCODE_SERVER_TRUSTED_PROXIES: '10.0.0.0/8, fd00::/8' };
    const fromEnv = loadConfig({ cwd: dir, env });
    expect(fromEnv.log.level).toBe('warn');
    expect(fromEnv.server).toMatchObject({ host: '127.0.0.1', port: 9100, trustedProxies: ['10.0.0.0/8', 'fd00::/8'] });
    const fromFlags = loadConfig({ cwd: dir, env, overrides: { server: { port: 9200 }, log: { level: undefined } } });
    expect(fromFlags.server.port).toBe(9200);
    expect(fromFlags.log.level).toBe('warn');
  });

  it('resolves file paths against the config file and env paths against cwd', () => {
    const configPath = writeConfig('roots: [.., ../sub]\ndataDir: state\nprofile: ../custom.yaml\n', 'conf/ironcode.yaml');
    const elsewhere = path.join(dir, 'sub');
    const config = loadConfig({ cwd: elsewhere, env: {}, configPath });
    expect(config.roots).toEqual([dir, path.join(dir, 'sub')]);
    expect(config.dataDir).toBe(path.join(dir, 'conf', 'state'));
    expect(config.profile).toBe(path.join(dir, 'custom.yaml'));

    const fromEnv = loadConfig({ cwd: elsewhere, env: { IRONCODE_CONFIG: configPath, IRONCODE_ROOTS: `.${path.delimiter}..${path.delimiter}` } });
    expect(fromEnv.roots).toEqual([elsewhere, dir]);
  });

  it('ignores reserved IRONCODE_ variables', () => {
    const env = Object.fromEntries(RESERVED_ENV.filter((name) => name !== 'IRONCODE_CONFIG').map((name) => [name, 'x']));
    expect(loadConfig({ cwd: dir, env }).profile).toBe('standard');
  });

  it('accepts combinations that only look risky', () => {
    writeConfig('profile: strict\nexec:\n  sandbox: required\n  network: false\nroots: [., sub]\ndataDir: ./.ironcode\nserver:\n  host: 0.0.0.0\n  trustedProxies: [0.0.0.0/0]\n');
    const config = loadConfig({ cwd: dir, env: {} });
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 7400, trustedProxies: ['0.0.0.0/0'] });
    expect(config.exec).toEqual({ sandbox: 'required', network: false, limits: {} });
  });

  it('accepts host names and IPv6 literals', () => {
    expect(loadConfig({ cwd: dir, env: { IRONCODE_SERVER_HOST: '::1' } }).server.host).toBe('::1');
    expect(loadConfig({ cwd: dir, env: { IRONCODE_SERVER_HOST: 'api.internal' } }).server.host).toBe('api.internal');
  });

  it('returns a deeply frozen result', () => {
    writeConfig('exec:\n  limits:\n    timeoutMs: 1000\n');
    const config = loadConfig({ cwd: dir, env: {} });
    for (const part of [config, config.roots, config.log, config.exec, config.exec.limits, config.server]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('derives one environment name per field from the schema', () => {
    expect(CONFIG_ENV_NAMES).toEqual([
      'IRONCODE_PROFILE',
      'IRONCODE_ROOTS',
      'IRONCODE_DATA_DIR',
      'IRONCODE_LOG_LEVEL',
      'IRONCODE_LOG_FORMAT',
      'IRONCODE_EXEC_SANDBOX',
      'IRONCODE_EXEC_NETWORK',
      'IRONCODE_EXEC_LIMITS_TIMEOUT_MS',
      'IRONCODE_EXEC_LIMITS_MAX_OUTPUT_BYTES',
      'IRONCODE_EXEC_LIMITS_MAX_FILE_BYTES',
      'IRONCODE_EXEC_LIMITS_MAX_PROCESSES',
      'IRONCODE_SERVER_HOST',
      'IRONCODE_SERVER_PORT',
      'IRONCODE_SERVER_TRUSTED_PROXIES',
      'IRONCODE_SERVER_ALLOWED_HOSTS',
      'IRONCODE_SERVER_CORS_ORIGINS',
      'IRONCODE_SERVER_BODY_LIMIT_BYTES',
      'IRONCODE_SERVER_RATE_LIMIT_WINDOW_SECONDS',
      'IRONCODE_SERVER_RATE_LIMIT_PER_IP',
      'IRONCODE_SERVER_RATE_LIMIT_PER_PRINCIPAL',
      'IRONCODE_SERVER_RATE_LIMIT_AUTH_PER_IP',
      'IRONCODE_AUTH_ISSUER',
      'IRONCODE_AUTH_AUDIENCE',
      'IRONCODE_AUTH_ACCESS_TOKEN_SECONDS',
      'IRONCODE_AUTH_REFRESH_TOKEN_SECONDS',
      'IRONCODE_AUTH_SIGNING_KEY_ROTATION_SECONDS',
      'IRONCODE_AUTH_PASSWORD_MIN_LENGTH',
      'IRONCODE_AUTH_LOCKOUT_MAX_FAILURES',
      'IRONCODE_AUTH_LOCKOUT_WINDOW_SECONDS',
      'IRONCODE_AUTH_LOCKOUT_LOCK_SECONDS',
      'IRONCODE_AUTH_LOCAL_OPERATOR_ENABLED',
      'IRONCODE_AUTH_LOCAL_OPERATOR_NAME',
      'IRONCODE_AUTH_LOCAL_OPERATOR_ROLES',
      'IRONCODE_STORE_SQLITE_SYNCHRONOUS',
      'IRONCODE_AUDIT_MAX_BATCH',
      'IRONCODE_TOOLS_PER_PRINCIPAL_RATE_PER_SECOND',
      'IRONCODE_TOOLS_PER_PRINCIPAL_BURST',
      'IRONCODE_TOOLS_PER_PRINCIPAL_CONCURRENCY',
      'IRONCODE_TOOLS_PER_TOOL_RATE_PER_SECOND',
      'IRONCODE_TOOLS_PER_TOOL_BURST',
      'IRONCODE_TOOLS_PER_TOOL_CONCURRENCY',
      'IRONCODE_TOOLS_BREAKER_CONSECUTIVE_FAILURES',
      'IRONCODE_TOOLS_BREAKER_HALF_OPEN_AFTER_SECONDS',
      'IRONCODE_TOOLS_SESSIONS_MAX',
      'IRONCODE_TOOLS_SESSIONS_TTL_SECONDS',
      'IRONCODE_TOOLS_SESSIONS_MAX_LIFETIME_SECONDS',
    ]);
  });
});
