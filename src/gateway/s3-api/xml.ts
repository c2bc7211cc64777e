/**
 * S3's XML answers: small documents rendered by hand, from an ordered list of elements so that
 * repeated elements (<Contents>, <Part>) keep their order.
 */

export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** One element per key; a key whose value is undefined is left out. */
export type XmlElement = { [tag: string]: XmlValue };
export type XmlValue = string | number | boolean | undefined | XmlElement[];

export function xmlDocument(root: string, children: XmlElement[], namespace?: string): string {
  const open = namespace ? `<${root} xmlns="${namespace}">` : `<${root}>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n${open}${render(children)}</${root}>`;
}

function render(children: XmlElement[]): string {
  let out = '';
  for (const child of children) {
    for (const [tag, value] of Object.entries(child)) {
      if (value === undefined) continue;
      out += `<${tag}>${Array.isArray(value) ? render(value) : escapeXml(String(value))}</${tag}>`;
    }
  }
  return out;
}

const SPECIAL = /[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f]/g;
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function escapeXml(text: string): string {
  return text.replace(SPECIAL, (c) => ENTITIES[c] ?? `&#x${c.charCodeAt(0).toString(16)};`);
}
