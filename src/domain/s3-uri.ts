/** `s3://bucket/key` addresses, the only way the server names objects. */
export interface S3Uri {
  bucket: string;
  key: string;
}

const S3_URI = /^s3:\/\/([^/]+)\/?(.*)$/;

/** Parses `s3://bucket[/key]`; returns undefined for anything else (https URLs included). */
export function parseS3Uri(uri: string): S3Uri | undefined {
  const m = S3_URI.exec(uri);
  if (!m || !m[1]) return undefined;
  return { bucket: m[1], key: m[2] ?? '' };
}

export function formatS3Uri({ bucket, key }: S3Uri): string {
  return `s3://${bucket}/${key}`;
}
