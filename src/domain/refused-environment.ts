/**
 * Environment variables a caller may not give a model (CreateModel's Environment): each makes an
 * interpreter, the dynamic linker, a shell or a library load code or configuration from where the
 * variable points, which would run the caller's code on the host. The operator can allow a name
 * for one image (`images.<Image>.allowedEnvironment`). Names are compared without regard to case
 * (refusing `ld_preload` costs nothing); an allowance is exact.
 *
 * This is one layer: the model process also starts from a minimal environment, never the
 * server's. The list is documented in docs/security.md; keep the two in step.
 */

/** Every name that starts with one of these: the dynamic linkers' (glibc, musl, macOS). */
export const REFUSED_ENVIRONMENT_PREFIXES = ['LD_', 'DYLD_'] as const;

export const REFUSED_ENVIRONMENT_NAMES = [
  // Node.js
  'NODE_OPTIONS', 'NODE_PATH', 'NODE_REPL_EXTERNAL_MODULE',
  // Python
  'PYTHONSTARTUP', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONWARNINGS', 'PYTHONINSPECT', 'PYTHONBREAKPOINT',
  'PYTHONEXECUTABLE', 'PYTHONUSERBASE', 'PYTHONPLATLIBDIR', 'PYTHONPYCACHEPREFIX',
  // Perl, Ruby, Lua, PHP, R, Tcl
  'PERL5OPT', 'PERL5LIB', 'PERLLIB', 'PERL5DB', 'RUBYOPT', 'RUBYLIB', 'LUA_INIT', 'LUA_PATH', 'LUA_CPATH',
  'PHPRC', 'PHP_INI_SCAN_DIR', 'R_PROFILE', 'R_PROFILE_USER', 'R_ENVIRON', 'R_ENVIRON_USER', 'TCLLIBPATH',
  // Java
  'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'CLASSPATH',
  // Shells
  'BASH_ENV', 'ENV', 'PROMPT_COMMAND', 'SHELLOPTS', 'BASHOPTS', 'PS4', 'IFS',
  // Commands that tools run on their own
  'BROWSER', 'EDITOR', 'VISUAL', 'PAGER', 'GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_EXEC_PATH', 'GIT_ASKPASS', 'GIT_PROXY_COMMAND',
  // Where programs and libraries are found
  'PATH', 'HOME', 'GCONV_PATH', 'LOCPATH', 'NLSPATH', 'GLIBC_TUNABLES', 'OPENSSL_CONF', 'OPENSSL_ENGINES', 'OPENSSL_MODULES',
  'CUDA_INJECTION32_PATH', 'CUDA_INJECTION64_PATH',
  // Secrets written where the caller may read them
  'SSLKEYLOGFILE',
] as const;

const REFUSED = new Set<string>(REFUSED_ENVIRONMENT_NAMES);

export function isRefusedEnvironmentVariable(name: string): boolean {
  const upper = name.toUpperCase();
  return REFUSED.has(upper) || REFUSED_ENVIRONMENT_PREFIXES.some((prefix) => upper.startsWith(prefix));
}

/** The names in `environment` a model may not be given, in the order given; `allowed` names (exact) pass. */
export function refusedEnvironmentVariables(environment: Readonly<Record<string, unknown>>, allowed: readonly string[] = []): string[] {
  const allowedSet = new Set(allowed);
  return Object.keys(environment).filter((name) => !allowedSet.has(name) && isRefusedEnvironmentVariable(name));
}
