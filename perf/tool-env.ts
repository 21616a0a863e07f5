/**
 * The environment both tools run in. NODE_EXTRA_CA_CERTS (set in some sandboxes and CI
 * images) makes every Node process load a certificate file at start-up, about 0.1 s here,
 * which a capture kernel's environment does not have; makedumpfile ignores it.
 */
export function toolEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}
