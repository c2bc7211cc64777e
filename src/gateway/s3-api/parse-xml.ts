/**
 * S3's XML requests (DeleteObjects, CompleteMultipartUpload), parsed with fast-xml-parser. A
 * document with a DOCTYPE is refused rather than parsed: S3 documents never have one, and entity
 * definitions are how XML bombs work.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { s3Error } from './s3-error.js';

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  isArray: (name) => name === 'Part' || name === 'Object',
});

/** Parses a request document; anything that is not well-formed XML is S3's MalformedXML. */
export function parseXml(text: string, what: string): Record<string, unknown> {
  if (/<!DOCTYPE|<!ENTITY/i.test(text) || XMLValidator.validate(text) !== true) {
    throw s3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema: the body must be a ${what} document.`);
  }
  return parser.parse(text) as Record<string, unknown>;
}
