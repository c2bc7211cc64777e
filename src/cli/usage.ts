/** How every `asyncinfer` command answers a wrong invocation: one line on stderr pointing at its help, and exit code 2. */
export const EXIT_USAGE = 2;

export function usageError(command: string, message: string): number {
  process.stderr.write(`asyncinfer ${command}: ${message} Run "asyncinfer ${command} --help" for the options.\n`);
  return EXIT_USAGE;
}
