/** A serving certificate from a throw-away CA, generated with `openssl` (Deno.serve takes PEM). */

/** A PEM certificate and key. */
export interface ServingCert {
  /** Serving certificate (PEM). */
  cert: string;
  /** Its private key (PEM). */
  key: string;
  /** The CA certificate clients trust (PEM). */
  ca: string;
}

/** Typed error when a certificate cannot be generated. */
export class CertificateError extends Error {
  /** Discriminator. */
  readonly code = "certificate_generation_failed";
  /** Build one with the tool's output. */
  constructor(detail: string) {
    super(`Self-signed certificate generation failed: "${detail}"`);
    this.name = "CertificateError";
  }
}

async function openssl(args: string[]): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
  } catch (e) {
    throw new CertificateError(e instanceof Error ? e.message : String(e));
  }
  if (!out.success) throw new CertificateError(new TextDecoder().decode(out.stderr).trim());
}

/**
 * Generate a throw-away CA and an EC P-256 serving certificate signed by it, valid for
 * `localhost`, 127.0.0.1, ::1 and the given extra addresses/names. Needs the `openssl` binary.
 */
export async function selfSignedCert(hosts: string[] = []): Promise<ServingCert> {
  const dir = await Deno.makeTempDir({ prefix: "tern-kubeapi-cert-" });
  try {
    const san = new Set([
      "DNS:localhost",
      "IP:127.0.0.1",
      "IP:::1",
      "DNS:kubernetes",
      "DNS:kubernetes.default",
    ]);
    for (const h of hosts) {
      if (!h || h === "0.0.0.0" || h === "::") continue;
      san.add(/^[\d.]+$/.test(h) || h.includes(":") ? `IP:${h}` : `DNS:${h}`);
    }
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    await openssl([
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${dir}/ca.key`,
      "-out",
      `${dir}/ca.pem`,
      "-days",
      "365",
      "-subj",
      "/CN=tern-kubeapi-ca",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await openssl([
      "req",
      "-new",
      ...ec,
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/req.csr`,
      "-subj",
      "/CN=tern-kubeapi",
    ]);
    await Deno.writeTextFile(
      `${dir}/ext.cnf`,
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${
        [...san].join(",")
      }\n`,
    );
    await openssl([
      "x509",
      "-req",
      "-in",
      `${dir}/req.csr`,
      "-CA",
      `${dir}/ca.pem`,
      "-CAkey",
      `${dir}/ca.key`,
      "-CAcreateserial",
      "-out",
      `${dir}/cert.pem`,
      "-days",
      "365",
      "-extfile",
      `${dir}/ext.cnf`,
    ]);
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
      ca: await Deno.readTextFile(`${dir}/ca.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
