/** A self-signed serving certificate, generated with `openssl` (Deno.serve takes PEM cert/key). */

/** A PEM certificate and key. */
export interface ServingCert {
  cert: string;
  key: string;
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

/**
 * Generate an EC P-256 self-signed certificate valid for `localhost`, 127.0.0.1, ::1 and the
 * given extra addresses/names. Needs the `openssl` binary.
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
    const args = [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
      "-days",
      "365",
      "-subj",
      "/CN=tern-kubeapi",
      "-addext",
      `subjectAltName=${[...san].join(",")}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
    ];
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
    } catch (e) {
      throw new CertificateError(e instanceof Error ? e.message : String(e));
    }
    if (!out.success) throw new CertificateError(new TextDecoder().decode(out.stderr).trim());
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
