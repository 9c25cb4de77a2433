import type { Findings } from './command-findings.js';
import { parseArgs } from './command-options.js';
import type { ToolRule } from './command-rules-tools.js';

/**
 * docker, kubectl and helm: read commands, checked runs, and what changes a cluster
 * or gives a container the host.
 */

const DOCKER_READ = new Set(['ps', 'images', 'logs', 'inspect', 'version', 'info', 'stats', 'top', 'port', 'diff', 'history', 'events', 'search', 'help']);
const DOCKER_CHECKED = new Set(['run', 'create', 'build', 'pull', 'exec']);
const DOCKER_OBJECT_READ = new Set(['ls', 'list', 'inspect', 'logs', 'ps', 'top', 'history', 'config', 'images', 'version', 'df', 'info', 'events']);
const HOST_NAMESPACE = /^--(pid|network|net|ipc|uts|userns|cgroupns)$/;

export const docker: ToolRule = ({ args, relaxed }, out) => {
  const globals = parseArgs(args, { values: ['-H', '--host', '--context', '-c', '--config', '-l', '--log-level'], stopAtOperand: true });
  if (globals.options.some((o) => ['-H', '--host', '--context', '-c', '--config'].includes(o.name))) {
    out.deny('command.docker-host', 'high', 'docker --host/--context/--config points docker at another daemon or configuration');
  }
  const rest = args.slice(globals.firstOperandIndex);
  let sub = rest[0];
  let subArgs = rest.slice(1);
  if (sub === 'container' || sub === 'image' || sub === 'compose' || sub === 'network' || sub === 'volume' || sub === 'system' || sub === 'buildx') {
    const object = sub;
    sub = subArgs[0];
    subArgs = subArgs.slice(1);
    if (sub !== undefined && object === 'container' && DOCKER_CHECKED.has(sub)) {
      // `docker container run` is `docker run`
    } else {
      if (sub === undefined || DOCKER_OBJECT_READ.has(sub)) return;
      if (!relaxed.has('command.docker-modify')) out.deny('command.docker-modify', 'medium', `docker ${object} ${sub} changes containers, images or the daemon; this profile allows docker read commands, run, build and exec`);
      return;
    }
  }
  if (sub === undefined || DOCKER_READ.has(sub)) return;
  if (!DOCKER_CHECKED.has(sub)) {
    if (!relaxed.has('command.docker-modify')) out.deny('command.docker-modify', 'medium', `docker ${sub} changes containers, images or the daemon; this profile allows docker read commands, run, build and exec`);
    return;
  }
  if (sub === 'run' || sub === 'create' || sub === 'exec') dockerRunFlags(subArgs, out);
};

function dockerRunFlags(args: readonly string[], out: Findings): void {
  const parsed = parseArgs(args, {
    values: ['-v', '--volume', '--mount', '--pid', '--network', '--net', '--ipc', '--uts', '--userns', '--cgroupns', '--cap-add', '--security-opt', '--device', '-e', '--env', '--name', '-p', '--publish', '-w', '--workdir', '-u', '--user', '--entrypoint', '--env-file', '-l', '--label', '--memory', '-m', '--cpus', '--restart', '--hostname', '-h', '--add-host', '--volumes-from', '--device-cgroup-rule', '--tmpfs', '--platform', '--pull', '--log-driver', '--log-opt', '--ulimit', '--group-add', '--runtime'],
    stopAtOperand: true,
  });
  for (const option of parsed.options) {
    const value = option.value ?? '';
    if (option.name === '--privileged') out.deny('command.docker-privileged', 'critical', 'docker --privileged gives the container root on the host');
    else if (HOST_NAMESPACE.test(option.name) && value === 'host') out.deny('command.docker-privileged', 'critical', `docker ${option.name}=host shares the host's namespace`);
    else if (option.name === '--cap-add') out.deny('command.docker-privileged', 'high', `docker --cap-add ${value} adds kernel capabilities`);
    else if (option.name === '--security-opt' && /unconfined|no-new-privileges[:=]false|label[:=]disable/i.test(value)) out.deny('command.docker-privileged', 'critical', `docker --security-opt ${value} disables confinement`);
    else if (option.name === '--device' || option.name === '--device-cgroup-rule') out.deny('command.docker-privileged', 'high', `docker ${option.name} gives the container host devices`);
    else if (option.name === '--runtime') out.deny('command.docker-privileged', 'high', 'docker --runtime changes the container runtime');
    else if (option.name === '-v' || option.name === '--volume') dockerVolume(value.split(':')[0]!, out);
    else if (option.name === '--mount' && /(^|,)volume-opt=(device=|o=[^,]*bind)/.test(value)) {
      out.deny('command.docker-privileged', 'critical', 'a docker volume with volume-opt device/bind options mounts a host path');
    } else if (option.name === '--mount') {
      const source = /(?:^|,)(?:source|src)=([^,]+)/.exec(value)?.[1];
      if (source !== undefined && /(?:^|,)type=bind/.test(value)) dockerVolume(source, out);
    } else if (option.name === '--env-file') out.path('read', value, 'docker --env-file');
  }
}

function dockerVolume(source: string, out: Findings): void {
  if (!source.includes('/') && !source.startsWith('.') && !source.startsWith('~')) return; // a named volume
  if (/docker\.sock|containerd\.sock|podman\.sock/.test(source)) {
    out.deny('command.docker-privileged', 'critical', `mounting ${source} gives the container control of the host's container engine`);
    return;
  }
  out.path('write', source, 'docker host mount');
}

const KUBECTL_READ = new Set(['get', 'describe', 'logs', 'top', 'explain', 'api-resources', 'api-versions', 'version', 'cluster-info', 'diff', 'events', 'wait', 'help', 'completion']);
const KUBECTL_READ_PAIRS = new Set(['config view', 'config current-context', 'config get-contexts', 'config get-clusters', 'config get-users', 'auth can-i', 'auth whoami', 'rollout status', 'rollout history']);
const HELM_READ = new Set(['list', 'ls', 'status', 'get', 'history', 'show', 'search', 'template', 'version', 'env', 'lint', 'help', 'verify', 'dependency']);

export const kubectl: ToolRule = ({ args, relaxed }, out) => {
  const parsed = parseArgs(args, { values: ['-n', '--namespace', '--context', '--cluster', '--user', '-o', '--output', '-l', '--selector', '--kubeconfig', '--server', '-s', '--token', '-c', '--container', '--since', '--tail', '-f', '--filename', '--raw'] });
  if (parsed.options.some((o) => ['--kubeconfig', '--server', '-s', '--token'].includes(o.name))) {
    out.deny('command.kubectl-credentials', 'high', 'kubectl --kubeconfig/--server/--token use credentials other than the configured ones');
  }
  const [sub, second] = parsed.operands;
  if (parsed.options.some((o) => o.name === '--raw')) {
    out.deny('command.kubectl-secrets', 'high', 'kubectl --raw reads any API path, secrets included');
    return;
  }
  if ((sub === 'get' || sub === 'describe') && parsed.operands.slice(1).some((o) => o.split(',').some((r) => /^secrets?([./]|$)/i.test(r)))) {
    out.deny('command.kubectl-secrets', 'high', `kubectl ${sub} secrets prints credentials; read them through a tool that redacts`);
    return;
  }
  if (sub === undefined || KUBECTL_READ.has(sub) || KUBECTL_READ_PAIRS.has(`${sub} ${second}`)) return;
  if (!relaxed.has('command.kubectl-modify')) out.deny('command.kubectl-modify', 'medium', `kubectl ${sub} changes the cluster or reaches into it; this profile allows kubectl read commands`);
};

export const helm: ToolRule = ({ args, relaxed }, out) => {
  const post = args.find((a) => a === '--post-renderer' || a.startsWith('--post-renderer='));
  if (post !== undefined) out.deny('command.exec-option', 'high', 'helm --post-renderer runs a program on the rendered manifests');
  const sub = parseArgs(args, { values: ['-n', '--namespace', '--kube-context', '-o', '--output'] }).operands[0];
  if (sub === undefined || HELM_READ.has(sub)) return;
  if (!relaxed.has('command.kubectl-modify')) out.deny('command.kubectl-modify', 'medium', `helm ${sub} changes the cluster; this profile allows helm read commands`);
};
