/**
 * Imported first by bin/drill.ts: the AWS SDK warns once per process, at load time, that releases after January 2027
 * need Node 22 — noise in the drill's output.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
