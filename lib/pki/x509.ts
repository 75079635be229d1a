// The one place that prepares @peculiar/x509: reflect-metadata polyfill and the crypto provider.
// Every module of the signing core imports x509 from here, never from "@peculiar/x509" directly.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
export const crypto = webcrypto as unknown as Crypto;
