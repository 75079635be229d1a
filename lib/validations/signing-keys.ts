import { z } from "zod";

/** The portal's "register a payload-signing key" form (SPEC §4 proof of possession + re-authentication). */
export const registerSigningKeyFormSchema = z.object({
  mode: z.enum(["generate", "paste"]),
  /** the proof-of-possession JWS (built in the browser, or pasted) */
  jws: z.string().trim().min(1, "Paste the proof-of-possession JWS.").max(16_384, "The JWS is too long."),
  /** pasted public JWK (paste mode): must be the key in the JWS header */
  jwk: z.string().trim().max(8_192, "The JWK is too long.").optional(),
  password: z.string().min(1, "Enter your password to confirm it is you.").max(256),
});

export const disableSigningKeyFormSchema = z.object({
  kid: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, "Not a key id.")
    .max(128),
});
