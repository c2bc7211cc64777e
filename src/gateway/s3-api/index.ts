export { createS3Api, type S3Api, type S3ApiOptions } from './server.js';
