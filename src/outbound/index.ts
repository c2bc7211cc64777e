export { byteCap, checkImageUrl, createOutboundPolicy, modelBaseUrl, NOT_ALLOWED, OutboundRefused, parseAddressEntry, parseAllowEntry, type OutboundPolicy, type OutboundSettings } from './policy.js';
