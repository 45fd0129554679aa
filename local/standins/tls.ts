/**
 * One self-signed certificate per local stack. Every stand-in (identity, Key Vault, Azurite, simulator)
 * serves HTTPS with it, because the Azure SDKs refuse bearer tokens over plain http.
 *
 * Trust reaches clients two ways:
 * - child processes get NODE_EXTRA_CA_CERTS=<dir>/tls/ca-bundle.pem (Node reads it only at startup, so it
 *   must be in the environment before the child starts);
 * - the current process adds the certificate to its default CA store with `tls.setDefaultCACertificates`
 *   (Node >= 22.15), which every later TLS connection without an explicit `ca` uses.
 */
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import tls from 'node:tls';
import selfsigned from 'selfsigned';

export interface StackTls {
  /** Absolute `<dir>/tls`. */
  dir: string;
  certFile: string;
  keyFile: string;
  /** The stack certificate plus the previously configured NODE_EXTRA_CA_CERTS content. */
  caFile: string;
  cert: string;
  key: string;
  /** True when an existing valid certificate was reused (paths and trust stay stable across runs). */
  reused: boolean;
}

export interface EnsureTlsOptions {
  /** Stack directory; default `.local`. The certificate lives in `<dir>/tls/`. */
  dir?: string;
  /** The NODE_EXTRA_CA_CERTS to merge into the bundle; default `process.env.NODE_EXTRA_CA_CERTS`. */
  extraCaFile?: string;
}

/** A certificate is reused only while it has this much validity left, so a long run never sees it expire. */
const MIN_REMAINING_MS = 7 * 24 * 3600_000;
const VALIDITY_MS = 825 * 24 * 3600_000;
const SUBJECT_PREFIX = 'gem-flow local stack';
const UNIQUE_SUBJECT = /CN=gem-flow local stack [0-9a-f]{12}$/m;

/** Creates `<dir>/tls/{cert,key,ca-bundle}.pem`, or reuses a valid certificate already there. */
export async function ensureTls(options: EnsureTlsOptions = {}): Promise<StackTls> {
  const dir = resolve(options.dir ?? '.local', 'tls');
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const caFile = join(dir, 'ca-bundle.pem');

  let pair = readReusablePair(certFile, keyFile);
  const reused = pair !== undefined;
  if (!pair) {
    pair = await generatePair();
    // Write-then-rename so a concurrently starting process never reads half a file.
    writeAtomic(keyFile, pair.key, 0o600);
    writeAtomic(certFile, pair.cert, 0o644);
  }

  const bundle = buildBundle(pair.cert, caFile, options.extraCaFile ?? process.env.NODE_EXTRA_CA_CERTS);
  if (!existsSync(caFile) || readFileSync(caFile, 'utf8') !== bundle) writeAtomic(caFile, bundle, 0o644);

  return { dir, certFile, keyFile, caFile, cert: pair.cert, key: pair.key, reused };
}

/**
 * Makes the current process trust `certPem` for all later TLS connections that do not pass their own `ca`
 * (the Azure SDK clients don't). Idempotent.
 */
export function trustInProcess(certPem: string): void {
  if (typeof tls.setDefaultCACertificates !== 'function') {
    throw new Error(
      `tls.setDefaultCACertificates is missing in Node ${process.versions.node}; run through npm so the ` +
        'project Node 22 is used, or start the process with NODE_EXTRA_CA_CERTS set to the stack CA bundle',
    );
  }
  const current = tls.getCACertificates('default');
  const wanted = normalizePem(certPem);
  if (current.some((c) => normalizePem(c) === wanted)) return;
  tls.setDefaultCACertificates([...current, certPem]);
}

/** Environment a child process needs to trust the stack certificate. */
export function childTlsEnv(stackTls: Pick<StackTls, 'caFile'>): { NODE_EXTRA_CA_CERTS: string } {
  return { NODE_EXTRA_CA_CERTS: stackTls.caFile };
}

function readReusablePair(certFile: string, keyFile: string): { cert: string; key: string } | undefined {
  if (!existsSync(certFile) || !existsSync(keyFile)) return undefined;
  try {
    const cert = readFileSync(certFile, 'utf8');
    const key = readFileSync(keyFile, 'utf8');
    const x509 = new X509Certificate(cert);
    const san = x509.subjectAltName ?? '';
    const fresh =
      Date.parse(x509.validTo) - Date.now() > MIN_REMAINING_MS && Date.parse(x509.validFrom) <= Date.now();
    const names = san.includes('DNS:localhost') && san.includes('IP Address:127.0.0.1');
    const unique = UNIQUE_SUBJECT.test(x509.subject);
    if (fresh && names && unique && x509.checkPrivateKey(createPrivateKey(key))) return { cert, key };
  } catch {
    // Unreadable or mismatched files are simply replaced.
  }
  return undefined;
}

async function generatePair(): Promise<{ cert: string; key: string }> {
  const now = Date.now();
  // A unique subject per certificate: OpenSSL finds trust anchors by subject name, and two trusted
  // certificates with the same subject (say .local's and .local/test-stack's, both in one CA bundle) make
  // verification pick the wrong one and fail with DEPTH_ZERO_SELF_SIGNED_CERT.
  const commonName = `${SUBJECT_PREFIX} ${randomBytes(6).toString('hex')}`;
  const pems = await selfsigned.generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    // Backdated a little so a skewed clock in a container does not make it "not yet valid".
    notBeforeDate: new Date(now - 3600_000),
    notAfterDate: new Date(now + VALIDITY_MS),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/**
 * The bundle is the stack certificate followed by the CA file that was configured before (NODE_EXTRA_CA_CERTS
 * accepts a single file, so overwriting it would drop a corporate CA). Our own bundle is never nested into
 * itself when a process that already trusts it starts another stack.
 */
function buildBundle(certPem: string, caFile: string, previous: string | undefined): string {
  let extra = '';
  if (previous && resolve(previous) !== caFile && existsSync(previous)) {
    extra = readFileSync(previous, 'utf8');
  }
  const own = certPem.trim();
  if (extra.includes(own)) extra = extra.replace(own, '');
  return `${own}\n${extra.trim() ? `${extra.trim()}\n` : ''}`;
}

function writeAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, file);
}

function normalizePem(pem: string): string {
  return pem.replace(/\s+/g, '');
}
