/** A self-signed serving certificate, generated with `openssl` (Deno.serve takes PEM cert/key). */

/** A PEM certificate and key. */
export interface ServingCert {
  cert: string;
  key: string;
  /** The CA that signed `cert`: what clients trust. */
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

async function openssl(args: string[], dir: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
      .output();
  } catch (e) {
    throw new CertificateError(e instanceof Error ? e.message : String(e));
  }
  if (!out.success) throw new CertificateError(new TextDecoder().decode(out.stderr).trim());
}

/**
 * Generate a throw-away CA and an EC P-256 serving certificate it signs, valid for `localhost`,
 * 127.0.0.1, ::1 and the given extra addresses/names. A separate CA matters: strict TLS stacks
 * (rustls in Deno's fetch) refuse a CA certificate used as the server's own. Needs `openssl`.
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
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "365",
      "-subj",
      "/CN=tern-kubeapi-ca",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ], dir);
    await openssl([
      "req",
      "-new",
      ...ec,
      "-keyout",
      "key.pem",
      "-out",
      "req.csr",
      "-subj",
      "/CN=tern-kubeapi",
    ], dir);
    await Deno.writeTextFile(
      `${dir}/ext.cnf`,
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n` +
        `extendedKeyUsage=serverAuth\nsubjectAltName=${[...san].join(",")}\n`,
    );
    await openssl([
      "x509",
      "-req",
      "-in",
      "req.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "cert.pem",
      "-days",
      "365",
      "-extfile",
      "ext.cnf",
    ], dir);
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
      ca: await Deno.readTextFile(`${dir}/ca.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
