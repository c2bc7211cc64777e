/**
 * Where outputs and failures go (spec §2):
 *   {S3OutputPath}[/{S3OutputPathExtension}]/{uuid}.out
 *   {S3FailurePath}[/{S3OutputPathExtension}]/{uuid}-error.out
 * A `Filename` replaces `{uuid}.out` as it is (no `.out` added) and the failure object becomes
 * `{Filename without its extension}-error.out`. Slashes at the joins are collapsed, so a
 * configured `s3://b/out/` and an extension `/a//b/` give `s3://b/out/a/b/...`, never `//`.
 */
export interface OutputNamingInput {
  id: string;
  s3OutputPath: string;
  s3FailurePath?: string;
  s3OutputPathExtension?: string;
  filename?: string;
}

export interface OutputLocations {
  outputLocation: string;
  failureLocation?: string;
}

export function outputLocations(input: OutputNamingInput): OutputLocations {
  const ext = input.s3OutputPathExtension?.split('/').filter(Boolean).join('/');
  const outputName = input.filename ?? `${input.id}.out`;
  const failureName = `${input.filename ? stem(input.filename) : input.id}-error.out`;
  return {
    outputLocation: join(input.s3OutputPath, ext, outputName),
    ...(input.s3FailurePath !== undefined && { failureLocation: join(input.s3FailurePath, ext, failureName) }),
  };
}

function join(base: string, ext: string | undefined, name: string): string {
  const trimmed = base.replace(/\/+$/, '');
  // `s3://bucket` has no key prefix: keep exactly one slash after the bucket.
  return [trimmed, ext, name].filter((part) => part !== undefined && part !== '').join('/');
}

/** `result.json` → `result`; Filename allows at most one dot, so this is unambiguous. */
function stem(filename: string): string {
  const dot = filename.indexOf('.');
  return dot === -1 ? filename : filename.slice(0, dot);
}
