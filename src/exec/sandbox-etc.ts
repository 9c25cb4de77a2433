/**
 * The `/etc` entries a sandboxed program may see. An allowlist rather than a mask:
 * hosts keep secrets in /etc under names no list could foresee (k3s.yaml, kubernetes
 * pki, wireguard, debian.cnf, npmrc tokens …), and inside the user namespace every
 * root-owned file appears owned by the sandbox user, so mode 0600 protects nothing.
 * What is missing here fails visibly and is added; what leaks cannot be taken back.
 */
export const SANDBOX_ETC_ENTRIES: readonly string[] = [
  // users, names and the resolver (passwd and group hold no password hashes)
  'passwd', 'group', 'nsswitch.conf', 'hosts', 'host.conf', 'resolv.conf', 'gai.conf',
  'services', 'protocols', 'networks', 'hostname', 'ethertypes', 'netconfig', 'rpc',
  // the dynamic loader and Debian's alternatives (/usr/bin/awk → /etc/alternatives/awk)
  'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'alternatives',
  // time, locale, terminal, file types
  'localtime', 'timezone', 'locale.alias', 'locale.conf', 'terminfo', 'inputrc',
  'mime.types', 'magic', 'magic.mime', 'mtab', 'shells', 'os-release', 'lsb-release',
  'debian_version', 'fonts', 'xml', 'sgml',
  // TLS trust (private keys are masked, see SANDBOX_ETC_MASKS)
  'ssl', 'ca-certificates', 'ca-certificates.conf', 'pki', 'crypto-policies',
  // language runtimes' system configuration
  'gitconfig', 'perl', 'python3', 'vim',
];

/** Name prefixes allowed as a family: python3.11, java-17-openjdk. */
export const SANDBOX_ETC_PREFIXES: readonly string[] = ['python3.', 'java-'];

/** Inside allowed entries, directories replaced by an empty tmpfs. */
export const SANDBOX_ETC_MASKS: readonly string[] = ['/etc/ssl/private', '/etc/pki/tls/private'];
