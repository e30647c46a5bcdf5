// Reads the keystore and trust store the manual names (javax.net.ssl.keyStore / trustStore), recognising
// the format by content, not by file name: PEM, PKCS#12, or a Java KeyStore (which we explain how to convert).

import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createSecureContext } from 'node:tls';

export type StoreFormat = 'pem' | 'pkcs12' | 'jks' | 'jceks' | 'unknown';

export function detectStoreFormat(data: Buffer): StoreFormat {
  if (data.length >= 4) {
    const magic = data.readUInt32BE(0);
    if (magic === 0xfeedfeed) return 'jks';
    if (magic === 0xcececece) return 'jceks';
  }
  if (data.includes('-----BEGIN ')) return 'pem';
  // PKCS#12 is DER: a SEQUENCE (0x30) with a long-form length, then INTEGER version 3.
  if (data.length > 8 && data[0] === 0x30) return 'pkcs12';
  return 'unknown';
}

/** The PEM blocks of a kind (CERTIFICATE, or any PRIVATE KEY) in a text. */
function pemBlocks(text: string, kind: 'CERTIFICATE' | 'PRIVATE KEY'): string[] {
  const out: string[] = [];
  let from = 0;
  for (;;) {
    const begin = text.indexOf('-----BEGIN ', from);
    if (begin < 0) break;
    const labelEnd = text.indexOf('-----', begin + 11);
    if (labelEnd < 0) break;
    const label = text.slice(begin + 11, labelEnd);
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, labelEnd);
    if (end < 0) break;
    const matches = kind === 'CERTIFICATE' ? label === 'CERTIFICATE' : label.endsWith('PRIVATE KEY');
    if (matches) out.push(text.slice(begin, end + endMarker.length) + '\n');
    from = end + endMarker.length;
  }
  return out;
}

function javaStoreMessage(path: string, kind: string): string {
  return (
    `is a Java ${kind} keystore, which Node.js cannot read; convert it to PKCS#12 with ` +
    `keytool -importkeystore -srckeystore ${path} -srcstoretype ${kind === 'JCEKS' ? 'JCEKS' : 'JKS'} ` +
    `-destkeystore ${path}.p12 -deststoretype PKCS12, and point the key at ${path}.p12`
  );
}

export interface Identity {
  readonly cert?: string;
  readonly key?: string;
  readonly pfx?: Buffer;
  readonly passphrase?: string;
}

/** Reads a keystore (our certificate and private key). Throws an Error whose message completes "<key>=<path>: …". */
export function readIdentity(path: string, password: string | undefined): Identity {
  const { data, format } = readStore(path);
  switch (format) {
    case 'pem': {
      const text = data.toString('latin1');
      const certs = pemBlocks(text, 'CERTIFICATE');
      const keys = pemBlocks(text, 'PRIVATE KEY');
      if (certs.length === 0 || keys.length === 0) {
        throw new Error(`a PEM keystore must hold the certificate (chain) and its private key in one file; found ${certs.length} certificate(s) and ${keys.length} private key(s)`);
      }
      const identity = { cert: certs.join(''), key: keys[0], passphrase: password || undefined };
      tryContext(identity);
      return identity;
    }
    case 'pkcs12': {
      const identity = { pfx: data, passphrase: password ?? '' };
      tryContext(identity);
      return identity;
    }
    default:
      throw new Error('is not a keystore this daemon can read: expected PEM (certificate and private key), PKCS#12, or a JKS to convert');
  }
}

/** Reads a trust store into PEM CA certificates. PKCS#12 trust stores are opened with the openssl command. */
export function readTrustedCertificates(path: string, password: string | undefined): string[] {
  const { data, format } = readStore(path);
  switch (format) {
    case 'pem': {
      const certs = pemBlocks(data.toString('latin1'), 'CERTIFICATE');
      if (certs.length === 0) throw new Error('a PEM trust store must hold at least one certificate');
      return certs;
    }
    case 'pkcs12': {
      let out: string;
      try {
        // Start-up only: Node cannot list the certificates of a PKCS#12 bundle that has no private key.
        out = execFileSync('openssl', ['pkcs12', '-in', path, '-nokeys', '-passin', `pass:${password ?? ''}`], {
          encoding: 'latin1',
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 10_000,
        });
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { stderr?: string };
        if (e.code === 'ENOENT') throw new Error('is a PKCS#12 trust store, which needs the openssl command to read; install openssl or convert the trust store to PEM');
        const why = String(e.stderr ?? e.message).includes('mac verify') ? 'the password (trustStorePassword) is wrong' : String(e.stderr ?? e.message).split('\n')[0];
        throw new Error(`could not be read as PKCS#12: ${why}`);
      }
      const certs = pemBlocks(out, 'CERTIFICATE');
      if (certs.length === 0) throw new Error('the PKCS#12 trust store holds no certificate');
      return certs;
    }
    default:
      throw new Error('is not a trust store this daemon can read: expected PEM certificates, PKCS#12, or a JKS to convert');
  }
}

/** The file and its format; a Java keystore is refused here with the command that converts it. */
function readStore(path: string): { data: Buffer; format: Exclude<StoreFormat, 'jks' | 'jceks'> } {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(e.code === 'ENOENT' ? 'no such file' : `cannot be read (${e.code ?? e.message})`);
  }
  const format = detectStoreFormat(data);
  if (format === 'jks' || format === 'jceks') throw new Error(javaStoreMessage(path, format.toUpperCase()));
  return { data, format };
}

function tryContext(identity: Identity): void {
  try {
    createSecureContext(identity);
  } catch (err) {
    const msg = (err as Error).message;
    if (msg.includes('mac verify failure')) throw new Error('the password (keyStorePassword) does not open it');
    if (msg.includes('unsupported')) {
      throw new Error(`uses an algorithm OpenSSL 3 no longer enables (${msg}); re-export it: openssl pkcs12 -legacy -in OLD -nodes | openssl pkcs12 -export -out NEW`);
    }
    if (msg.includes('bad decrypt') || msg.includes('bad password')) throw new Error('the private key is encrypted and the password does not open it');
    throw new Error(`is not a usable certificate and key: ${msg}`);
  }
}
