/**
 * Which environment variable names say they hold a secret. Shared by the stack-config check
 * (config/rules/stack.ts: a plaintext secret in the stack file) and the policy pack (a plaintext secret in
 * a container's environment), so both read a name the same way.
 */

/** Words that make a name a secret wherever they stand: HF_TOKEN, DB_PASSWORD, CLIENT_SECRET_ID. */
const SECRET_WORDS = new Set(["SECRET", "SECRETS", "TOKEN", "TOKENS", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "CREDENTIALS"]);
/** Words that make a name a secret as its last word: OPENAI_API_KEY, SIGNING_KEY (but not KEY_ID, KEYBOARD_LAYOUT). */
const SECRET_LAST_WORDS = new Set(["KEY", "APIKEY", "PRIVATEKEY"]);

/**
 * True when `name` says it holds a secret. A name ending in _FILE or _PATH says it holds where
 * the secret is (the Docker secrets convention, e.g. HF_TOKEN_FILE=/run/secrets/hf_token), not the secret.
 */
export function isSecretEnvName(name: string): boolean {
    const words = name
        .toUpperCase()
        .split(/[^A-Z0-9]+/)
        .filter((w) => w.length > 0);
    if (words.length === 0) {
        return false;
    }
    const last = words[words.length - 1];
    if (last === "FILE" || last === "PATH") {
        return false;
    }
    return words.some((w) => SECRET_WORDS.has(w)) || SECRET_LAST_WORDS.has(last);
}
