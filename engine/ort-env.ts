/**
 * onnxruntime's telemetry, off unless the environment says otherwise: imported before
 * onnxruntime-node, which reads ORT_DISABLE_TELEMETRY (from the process environment, so set on
 * the main thread, before any model loads) when it creates its runtime. With it on, onnxruntime
 * tries to persist a device id under $HOME and, in a read-only container, prints a coloured
 * "Failed to persist telemetry device ID" line on stderr; and a serving engine should not send
 * usage data anywhere unasked. onnxruntime-node has no session or env option for it (1.30).
 * Set ORT_DISABLE_TELEMETRY=0 to leave it on.
 */
process.env['ORT_DISABLE_TELEMETRY'] ??= '1';
