// The environment of tslab's own Node helpers (the -d monitor, the -p proxy). They never speak TLS, and
// Node reads NODE_EXTRA_CA_CERTS at every start-up (about 50 ms on a machine that sets it).
export function helperEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}
