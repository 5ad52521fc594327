// A tiny CLI around npm `jose` (panva), used by tests/interop_node_jose.rs as a JOSE
// implementation not written in this project. Reads one JSON request on stdin, prints the result.
//   {"op":"encrypt","key":<public JWK>,"plaintext":"…","kid":"destination|thumbprint|none","cty":"…"}
//   {"op":"decrypt","key":<private JWK>,"compact":"…"}
//   {"op":"verify","key":<public JWK>,"compact":"…"}
import { CompactEncrypt, compactDecrypt, compactVerify, calculateJwkThumbprint, importJWK } from "jose";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));

if (req.op === "encrypt") {
  const key = await importJWK(req.key, "RSA-OAEP-256");
  const header = { alg: "RSA-OAEP-256", enc: "A256GCM", cty: req.cty ?? "application/json" };
  if (req.kid === "destination") header.kid = req.key.kid;
  if (req.kid === "thumbprint") header.kid = await calculateJwkThumbprint(req.key, "sha256");
  const jwe = await new CompactEncrypt(new TextEncoder().encode(req.plaintext))
    .setProtectedHeader(header)
    .encrypt(key);
  process.stdout.write(jwe);
} else if (req.op === "decrypt") {
  const key = await importJWK(req.key, "RSA-OAEP-256");
  const { plaintext, protectedHeader } = await compactDecrypt(req.compact, key);
  process.stdout.write(JSON.stringify({ plaintext: new TextDecoder().decode(plaintext), header: protectedHeader }));
} else if (req.op === "verify") {
  const key = await importJWK(req.key, "PS512");
  const { payload, protectedHeader } = await compactVerify(req.compact, key);
  process.stdout.write(JSON.stringify({ header: protectedHeader, claims: JSON.parse(new TextDecoder().decode(payload)) }));
} else {
  throw new Error(`unknown op ${req.op}`);
}
