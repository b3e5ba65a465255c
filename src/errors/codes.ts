// Over 500 lines on purpose: the one table of error codes (docs/architecture.md), one entry per code with its meaning and hint.
/**
 * The one table of error codes. Every `MtlsError` carries one of these codes; `docs/errors.md`
 * is generated from this table (`npm run docs`) and a test keeps the two in step.
 *
 * Exit codes follow docs/architecture.md: 1 the check ran and failed, 2 bad usage or bad input,
 * 3 internal error (a bug).
 */
export interface ErrorCodeInfo {
  /** Process exit code the CLI uses for this error. */
  readonly exit: 1 | 2 | 3;
  /** What the code means, in one sentence. */
  readonly meaning: string;
  /** What to do about it, in one sentence. Used as the default hint. */
  readonly hint: string;
}

export const ERROR_CODES = {
  USAGE: {
    exit: 2,
    meaning: "The command line is not valid: an unknown option, a missing argument or a value out of range.",
    hint: "Run the command with --help to see its options and an example.",
  },
  UNKNOWN_PROGRAM: {
    exit: 2,
    meaning: "The program name is not one mtlskit knows.",
    hint: "Use --program d1 (D1 eCom) or --program mt (Merchant Tokenization).",
  },
  UNKNOWN_ENVIRONMENT: {
    exit: 2,
    meaning: "The environment is not one of the program's environments.",
    hint: "D1 has preprod and production; MT has sandbox and production.",
  },
  UNKNOWN_KEY_TYPE: {
    exit: 2,
    meaning: "The key type is not one mtlskit can create.",
    hint: "Use one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-4096.",
  },
  KEY_TYPE_REFUSED: {
    exit: 2,
    meaning: "The program does not accept this key type for a client certificate.",
    hint: "D1 takes ECDSA P-256 or RSA 4096; MT takes ECDSA P-256, P-384 or RSA 2048.",
  },
  HASH_REFUSED: {
    exit: 2,
    meaning: "The program does not accept this signature hash with this key type.",
    hint: "Use SHA-256 (SHA-384 is accepted by MT with an ECDSA P-384 key).",
  },
  FILE_NOT_FOUND: {
    exit: 2,
    meaning: "A file named on the command line does not exist.",
    hint: "Check the path; relative paths are taken from the current directory.",
  },
  FILE_IS_DIRECTORY: {
    exit: 2,
    meaning: "A directory was given where a file is expected.",
    hint: "Name the file inside the directory.",
  },
  FILE_UNREADABLE: {
    exit: 2,
    meaning: "A file exists but cannot be read.",
    hint: "Check the file's permissions and that it is not locked by another program.",
  },
  FILE_EMPTY: {
    exit: 2,
    meaning: "A file that should hold a key, certificate or CSR is empty.",
    hint: "Check that the file was written completely; create or download it again.",
  },
  FILE_TOO_LARGE: {
    exit: 2,
    meaning: "A file is far larger than any key, certificate, CSR or chain can be.",
    hint: "Check that the right file was named.",
  },
  FILE_EXISTS: {
    exit: 2,
    meaning: "The output file exists and mtlskit does not overwrite it silently.",
    hint: "Choose another --out path, or add --force to replace it (a private key cannot be recovered once replaced).",
  },
  WRITE_FAILED: {
    exit: 2,
    meaning: "An output file could not be written; nothing was left half-written.",
    hint: "Check that the directory exists and is writable, and that the disk is not full.",
  },
  PEM_MALFORMED: {
    exit: 2,
    meaning: "The file looks like PEM but a block is broken: truncated, missing its END line, or not valid base64.",
    hint: "Copy the whole block again, from -----BEGIN to -----END, without changing a character.",
  },
  INPUT_NOT_RECOGNIZED: {
    exit: 2,
    meaning: "The file is neither a PEM nor a DER key, certificate or CSR.",
    hint: "Give a PEM or DER certificate, certificate signing request or private key.",
  },
  KEY_EXPECTED: {
    exit: 2,
    meaning: "A private key was expected, but the file holds something else (a certificate, a CSR, a public key).",
    hint: "Name the private key file (the one made with the CSR or certificate, usually *.key).",
  },
  CERTIFICATE_EXPECTED: {
    exit: 2,
    meaning: "A certificate was expected, but the file holds something else.",
    hint: "Name a certificate file (PEM 'BEGIN CERTIFICATE' or DER).",
  },
  KEY_ENCRYPTED: {
    exit: 2,
    meaning: "The private key is encrypted and no passphrase was given.",
    hint: "Add --passphrase-file FILE with the passphrase on its first line.",
  },
  KEY_BAD_PASSPHRASE: {
    exit: 2,
    meaning: "The private key could not be decrypted with the passphrase given.",
    hint: "Check the passphrase file: only its first line is used, without the line break.",
  },
  KEY_INVALID: {
    exit: 2,
    meaning: "The private key is damaged: its private value does not match the public key stored with it, or is out of range.",
    hint: "Use the key file exactly as it was created; if it was edited or corrupted, create a new key (and a new CSR or certificate).",
  },
  KEY_UNSUPPORTED: {
    exit: 2,
    meaning: "The key is of a kind mtlskit does not use for TLS client authentication.",
    hint: "Use an ECDSA P-256 or P-384 key, or an RSA 2048 or 4096 key, as the program allows.",
  },
  SUBJECT_SYNTAX: {
    exit: 2,
    meaning: "The subject is not in openssl -subj syntax (/TYPE=value/TYPE=value...).",
    hint: "Write it like /C=FR/ST=Paris/L=Paris/O=Example/OU=Payments, escaping a literal / as \\/.",
  },
  SUBJECT_INCOMPLETE: {
    exit: 2,
    meaning: "The subject lacks attributes the program's DN policy requires.",
    hint: "D1 subjects carry C, ST, L, O and OU: /C=FR/ST=Paris/L=Paris/O=Example/OU=Payments (the CN is added for you).",
  },
  WRONG_PROGRAM: {
    exit: 2,
    meaning: "The command does not apply to this program.",
    hint: "D1 client certificates start with a CSR (mtlskit csr create); MT ones are self-signed (mtlskit cert self-signed).",
  },
  SUBJECT_ATTRIBUTE_UNKNOWN: {
    exit: 2,
    meaning: "The subject names an attribute type mtlskit does not know.",
    hint: "Use C, ST, L, O, OU, CN, emailAddress, serialNumber, DC, UID, or a dotted OID.",
  },
  CN_MISMATCH: {
    exit: 2,
    meaning: "The Common Name given differs from the one the program's rules require.",
    hint: "Leave --cn out: mtlskit derives the Common Name Thales expects.",
  },
  GATEWAY_ID_INVALID: {
    exit: 2,
    meaning: "The merchantGatewayId or customer identifier is empty or contains characters that cannot appear in the Common Name.",
    hint: "Use the identifier exactly as Thales gave it (letters, digits, '-', '_', '.').",
  },
  VALIDITY_TOO_LONG: {
    exit: 2,
    meaning: "The requested validity exceeds the program's limit.",
    hint: "MT client certificates are valid for at most 730 days (2 years); ask for fewer days.",
  },
  VALIDITY_INVALID: {
    exit: 2,
    meaning: "The validity or renewal window given is not a valid duration.",
    hint: "Give days as a positive whole number (--days 365), a window as 30d or 20%.",
  },
  KEY_MISMATCH: {
    exit: 2,
    meaning: "A private key does not belong to the certificate it is paired with.",
    hint: "Pair each certificate with the key it was made from (the one its CSR was signed with).",
  },
  CERTIFICATE_NOT_CURRENT: {
    exit: 2,
    meaning: "A certificate has expired or is not yet valid.",
    hint: "Renew it (mtlskit renew) or check the machine's clock.",
  },
  LEAF_AS_CA: {
    exit: 2,
    meaning: "A leaf certificate was given where a CA is needed: trusting it would pin a certificate that Thales may rotate without notice.",
    hint: "Trust the issuing CA (the Thales Client CA), never the Thales client certificate itself; ask Thales for the CA if you only have the leaf.",
  },
  TLS_CONNECT_FAILED: {
    exit: 1,
    meaning: "A TLS connection to the server could not be made (DNS, refused, timed out, or handshake failure).",
    hint: "Check the host name and port, that the server is up, and that it speaks TLS 1.2 or later.",
  },
  URL_INVALID: {
    exit: 2,
    meaning: "The URL is not an https:// URL with a host name and a port between 1 and 65535.",
    hint: "Write it as https://HOST or https://HOST:PORT, e.g. https://tmg.dbp-stg.thalescloud.io:443.",
  },
  HOST_NOT_FOUND: {
    exit: 1,
    meaning: "The server's host name does not resolve in DNS.",
    hint: "Check the spelling of the host name and that this machine's DNS resolver can reach it.",
  },
  CONNECTION_REFUSED: {
    exit: 1,
    meaning: "The server's address answered, but nothing accepts connections on that port.",
    hint: "Check the port and that the server is running and listening on this address.",
  },
  CONNECT_TIMEOUT: {
    exit: 1,
    meaning: "No TLS session was set up within the time limit: the TCP connection or the TLS handshake did not finish.",
    hint: "Check that a firewall does not drop the traffic and that the port speaks TLS; raise the limit with --timeout if the link is slow.",
  },
  TLS_HANDSHAKE_FAILED: {
    exit: 1,
    meaning: "A TCP connection was made but the TLS handshake failed: no common protocol version or cipher, not TLS on that port, or the server closed the connection.",
    hint: "Check that the port speaks TLS 1.2 or 1.3 (not plain HTTP) and whether the server requires a client certificate.",
  },
  EMULATOR_STATE_INVALID: {
    exit: 2,
    meaning: "A file of the emulator's state folder (state.json, or a key or certificate under pki/) is damaged or not one the emulator wrote.",
    hint: "Restore the file from a backup, or start the emulator on an empty --dir (its CAs are then new: fetch the assets again).",
  },
  CONFIG_INVALID: {
    exit: 2,
    meaning: "The workspace configuration (mtlskit.yaml) is not valid YAML or does not follow its schema; the message names the file, the bad field's path and what is expected.",
    hint: "Fix the field named in mtlskit.yaml (see src/store/README.md for the format), or run mtlskit profile add to write a valid entry.",
  },
  PROFILE_NOT_FOUND: {
    exit: 2,
    meaning: "No profile of that name in the workspace's mtlskit.yaml.",
    hint: "List the profiles with mtlskit profile list, or create one with mtlskit profile add.",
  },
  PROFILE_EXISTS: {
    exit: 2,
    meaning: "A profile of that name, or for the same program, environment and customer id, exists already.",
    hint: "Choose another name, or use the existing profile (mtlskit profile show NAME).",
  },
  PROFILE_NAME_INVALID: {
    exit: 2,
    meaning: "The profile name has characters or a length mtlskit does not accept.",
    hint: "Use up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit.",
  },
  PROFILE_MISMATCH: {
    exit: 2,
    meaning: "The assets or certificate are for another program or another customer id than the profile.",
    hint: "Import them into the profile of that program and customer id.",
  },
  WORKSPACE_LOCKED: {
    exit: 2,
    meaning: "Another mtlskit process is writing to the workspace; the message names its process id.",
    hint: "Wait for it to finish and run the command again; if that process no longer runs, remove the .lock file named.",
  },
  EMULATOR_DIR_IN_USE: {
    exit: 2,
    meaning: "Another emulator is running on the same state folder; two would overwrite each other's state.",
    hint: "Stop the other emulator (the message names its process id), or give this one another --dir.",
  },
  CONFIRMATION_REQUIRED: {
    exit: 2,
    meaning: "The command removes or replaces something and needs a confirmation, but it does not run on a terminal.",
    hint: "Add --yes to confirm in scripts.",
  },
  ENVIRONMENT_MISMATCH: {
    exit: 2,
    meaning: "A certificate, asset or host belongs to another environment than the profile (production versus sandbox or preprod): environments never mix.",
    hint: "Use the certificates and assets Thales gave for the profile's environment.",
  },
  CERTIFICATE_REFUSED: {
    exit: 2,
    meaning: "The certificate was not installed because it fails the program's rules for this profile (key, CN, environment, validity, chain); the message lists the lint findings.",
    hint: "Fix what the findings say, usually by getting the right certificate from Thales or making a new CSR.",
  },
  NO_CLIENT_KEY: {
    exit: 2,
    meaning: "The profile has no client key yet, so there is nothing a certificate could belong to.",
    hint: "Create the key first: mtlskit csr create --profile NAME (D1) or mtlskit cert self-signed --profile NAME (MT).",
  },
  NOTHING_TO_RENEW: {
    exit: 2,
    meaning: "The profile has no client certificate, so there is nothing to renew.",
    hint: "Create the first one: mtlskit csr create --profile NAME (D1) or mtlskit cert self-signed --profile NAME (MT).",
  },
  RENEWAL_PENDING: {
    exit: 2,
    meaning: "A renewal of the profile's client certificate is already waiting to become active.",
    hint: "Finish it (mtlskit cert install for D1, mtlskit cert activate for MT), or add --force to start again.",
  },
  NOTHING_TO_ACTIVATE: {
    exit: 2,
    meaning: "The profile has no renewed certificate waiting to be activated.",
    hint: "Start a renewal first: mtlskit renew --profile NAME.",
  },
  ASSETS_INVALID: {
    exit: 2,
    meaning: "The asset bundle cannot be read: no manifest.json, invalid JSON, a wrong format or direction, or a file name outside the bundle.",
    hint: "Give the folder Thales (or the emulator) handed over, with its manifest.json, or a single PEM file.",
  },
  ASSET_INVALID: {
    exit: 2,
    meaning: "An asset from Thales fails its checks: it holds a key or CSR, a required CA is missing, a CA has expired, or the chain does not lead where the program requires.",
    hint: "Ask Thales for the current assets of this environment.",
  },
  CA_CERTIFICATE_REQUIRED: {
    exit: 2,
    meaning: "A CA certificate is needed but only a leaf certificate was given; mtlskit never pins Thales's leaf certificates, which Thales rotates without notice.",
    hint: "Ask Thales for the CA certificate (the Thales Client CA, or the server CA chain) and import it.",
  },
  CHAIN_INVALID: {
    exit: 2,
    meaning: "A certificate chain does not verify: a certificate names an issuer whose key did not sign it, or a self-signed certificate is damaged.",
    hint: "Get the complete chain again from its source; one of the certificates is not the one that signed.",
  },
  HOST_INVALID: {
    exit: 2,
    meaning: "A host is not a DNS name (name.domain, optionally :port): an IP address, or not a name at all.",
    hint: "Use the host name: Thales gives no static addresses, and names are resolved at every connection.",
  },
  SERVER_CERT_INVALID: {
    exit: 2,
    meaning: "The server certificate for the endpoint Thales calls fails its checks: chain incomplete or out of order, key mismatch, host name not covered, or a date.",
    hint: "Give the server certificate first, then each issuer in order (--chain), with the private key made with it.",
  },
  // Outbound (customer -> Thales): each code names the layer that failed (src/client).
  PROFILE_INCOMPLETE: {
    exit: 2,
    meaning: "The profile lacks something an outbound connection needs: the client key or certificate, or the Thales server trust.",
    hint: "Run mtlskit status --profile NAME to see what is missing, then create or import it (mtlskit assets import, cert install).",
  },
  CERTIFICATE_RENEWAL_DUE: {
    exit: 1,
    meaning: "The client certificate is still valid but inside its renewal window.",
    hint: "Renew it now, before it expires: mtlskit renew --profile NAME.",
  },
  DNS_NOT_FOUND: {
    exit: 1,
    meaning: "DNS layer: the host name does not exist or has no address record (NXDOMAIN or an empty answer) at the profile's resolvers.",
    hint: "Check the host name (TSH_INBOUND_HOST / D1_API_HOST) and the profile's dns.servers; never put an IP address in its place.",
  },
  DNS_FAILED: {
    exit: 1,
    meaning: "DNS layer: the resolver did not answer in time, refused the query or failed (SERVFAIL).",
    hint: "Check that the resolvers in the profile's dns.servers (or the system's) are reachable from this machine.",
  },
  TCP_CONNECTION_REFUSED: {
    exit: 1,
    meaning: "TCP layer: the address answered, but nothing accepts connections on that port.",
    hint: "Check the port of the host and that the server listens on the address DNS gives.",
  },
  TCP_CONNECT_TIMEOUT: {
    exit: 1,
    meaning: "TCP layer: no connection (or no TLS session on it) was set up within the connect timeout.",
    hint: "Check that no firewall drops the traffic (Thales uses no IP allow-listing) and that the port speaks TLS.",
  },
  TCP_CONNECTION_RESET: {
    exit: 1,
    meaning: "TCP layer: the server closed or reset the connection before answering.",
    hint: "Try again; if it persists, check the server's logs or a proxy between you and Thales.",
  },
  TLS_PROTOCOL_VERSION: {
    exit: 1,
    meaning: "TLS layer: the server offers no TLS version of 1.2 or later; mtlskit never speaks TLS 1.1 or older.",
    hint: "The server must be upgraded to TLS 1.2 or 1.3; Thales endpoints speak both, so check that the host is really Thales's.",
  },
  TLS_SERVER_NOT_TRUSTED: {
    exit: 1,
    meaning: "TLS layer: the server's certificate chain does not verify against the profile's Thales server trust (unknown CA, expired or self-signed).",
    hint: "Import the current server CA chain of this environment (mtlskit assets import), and check that the host is Thales's.",
  },
  TLS_SERVER_WRONG_CA: {
    exit: 1,
    meaning: "TLS layer: the server's chain verifies but lacks the CA the program requires (MT: DigiCert SHA2 High Assurance Server CA; D1: an Amazon Trust Services root).",
    hint: "The host is probably not Thales's endpoint for this environment (a proxy or a wrong host name); check the host and the assets.",
  },
  TLS_HOSTNAME_MISMATCH: {
    exit: 1,
    meaning: "TLS layer: the server's certificate does not name the host connected to.",
    hint: "Use the host name exactly as Thales gave it (TSH_INBOUND_HOST / D1_API_HOST), not an alias or an IP address.",
  },
  TLS_CLIENT_CERT_REFUSED: {
    exit: 1,
    meaning: "TLS layer: the server refused the client certificate for a reason it did not detail.",
    hint: "Check the client certificate with mtlskit lint and mtlskit status --profile NAME, and that Thales registered it for this environment.",
  },
  TLS_CLIENT_CERT_NOT_ENDORSED: {
    exit: 1,
    meaning: "TLS layer (MT): the server does not know the self-signed client certificate: it is not endorsed (pinned) for this environment.",
    hint: "Register this exact certificate in the Thales portal for this environment (its SHA-256 fingerprint is in mtlskit status), or install the one registered.",
  },
  TLS_CLIENT_CERT_UNKNOWN_CA: {
    exit: 1,
    meaning: "TLS layer (D1): the client certificate was not issued by this environment's Thales CA.",
    hint: "Install the certificate Thales signed for this environment (mtlskit cert install) with its chain; a certificate of another environment or CA is refused.",
  },
  TLS_CLIENT_CERT_EXPIRED: {
    exit: 1,
    meaning: "TLS layer: the server refused the client certificate because it (or a CA of its chain) has expired or is not yet valid.",
    hint: "Renew the certificate (mtlskit renew --profile NAME) and check this machine's clock.",
  },
  TLS_CLIENT_CERT_WRONG_ENVIRONMENT: {
    exit: 1,
    meaning: "TLS layer: the server refused the client certificate as one of another environment or with a Common Name it does not accept.",
    hint: "Use the certificate made for this environment (D1: CN ending in D1.PPR for preprod, D1.PRD for production; MT: the portal's CN).",
  },
  TLS_NOT_TLS: {
    exit: 1,
    meaning: "TLS layer: the port does not speak TLS (plain HTTP or another protocol answered).",
    hint: "Check the port of the host: Thales endpoints speak HTTPS on 443.",
  },
  HTTP_HEADERS_TIMEOUT: {
    exit: 1,
    meaning: "HTTP layer: the server accepted the request but sent no response headers within the headers timeout.",
    hint: "Try again later, or raise the timeout if the operation is known to be slow.",
  },
  HTTP_BODY_TIMEOUT: {
    exit: 1,
    meaning: "HTTP layer: the response body stalled for longer than the body timeout.",
    hint: "Try again later, or raise the timeout if responses are known to be large or slow.",
  },
  HTTP_CONNECTION_CLOSED: {
    exit: 1,
    meaning: "HTTP layer: the connection closed before the whole response arrived.",
    hint: "Try again; a request that is not idempotent (POST) is never retried automatically, so check whether it took effect first.",
  },
  HTTP_CORRELATION_ID_INVALID: {
    exit: 2,
    meaning: "HTTP layer: the x-correlation-id given does not match ^[A-Za-z0-9_-]{1,64}$.",
    hint: "Use 1 to 64 letters, digits, '-' and '_', or leave it out and mtlskit generates one.",
  },
  HTTP_PATH_INVALID: {
    exit: 2,
    meaning: "HTTP layer: the path or URL given is not on the profile's Thales host.",
    hint: "Give a path (/1/sandbox-v2/..., or relative to the base path) or a URL on the profile's host; environments never mix.",
  },
  HTTP_BASE_PATH_NOT_FOUND: {
    exit: 1,
    meaning: "HTTP layer: the TLS connection works, but the server answers 404 on the program's base path.",
    hint: "Check the host and base path of this environment (MT sandbox: /1/sandbox-v2/, production: /1/mg/).",
  },
  HTTP_SERVER_ERROR: {
    exit: 1,
    meaning: "HTTP layer: the server answered with a 5xx status.",
    hint: "Try again later; if it persists, contact Thales support with the x-correlation-id.",
  },
  OAUTH_NOT_USED: {
    exit: 2,
    meaning: "The profile's program does not use OAuth 2.0 (MT authenticates with the client certificate and an API key).",
    hint: "Use a D1 profile for tokens and OAuth keys.",
  },
  OAUTH_KEY_MISSING: {
    exit: 2,
    meaning: "OAuth layer: the profile has no ES256 signing key or no kid for its JWT assertions.",
    hint: "Create them with mtlskit oauth key create --profile NAME, then register the public key and kid with Thales (mtlskit assets export).",
  },
  OAUTH_KEY_INVALID: {
    exit: 2,
    meaning: "OAuth layer: the signing key is not an ECDSA P-256 private key, which ES256 requires.",
    hint: "Create a new one with mtlskit oauth key create --profile NAME --force and register its public key with Thales.",
  },
  OAUTH_TOKEN_REFUSED: {
    exit: 1,
    meaning: "OAuth layer: the token endpoint refused the JWT bearer grant (bad signature, wrong issuer, invalid or missing field).",
    hint: "Check that the public key registered with Thales is the one of the profile's key, and that iss is the merchantGatewayId.",
  },
  OAUTH_UNKNOWN_KID: {
    exit: 1,
    meaning: "OAuth layer: the token endpoint knows no key with the assertion's kid for this merchantGatewayId.",
    hint: "Register the public key and kid with Thales (mtlskit assets export gives D1_OAUTH_PUBLIC_KEY and D1_OAUTH_KID), or set the kid Thales knows in the profile.",
  },
  OAUTH_CLOCK_SKEW: {
    exit: 1,
    meaning: "OAuth layer: the assertion was refused as expired or too far ahead: this machine's clock differs from the server's.",
    hint: "Synchronise the clock (NTP); assertions live at most 15 minutes.",
  },
  OAUTH_TOKEN_RESPONSE_INVALID: {
    exit: 1,
    meaning: "OAuth layer: the token endpoint answered 2xx, but not with an access_token, token_type and expires_in.",
    hint: "Check that the authz URL of the profile (D1_AUTHZ_URL) is the Thales one.",
  },
  INBOUND_NOT_READY: {
    exit: 2,
    meaning: "The endpoint Thales calls cannot start: the server certificate and key, or the Thales Client CA that verifies Thales's client certificate, are missing.",
    hint: "Set the server certificate (mtlskit server-cert set --profile NAME ...) and import the Thales assets (mtlskit assets import DIR --profile NAME), or give --cert, --key and --client-ca.",
  },
  LISTEN_ADDRESS_INVALID: {
    exit: 2,
    meaning: "A listen address is not HOST:PORT, [IPv6]:PORT, :PORT or PORT with a port between 0 and 65535.",
    hint: "Write it like 0.0.0.0:8443, 127.0.0.1:9464 or :8443.",
  },
  LISTEN_FAILED: {
    exit: 2,
    meaning: "The server could not listen on the address: the port is taken, the address is not on this machine, or a port below 1024 needs privileges.",
    hint: "Choose a free port; for 443, forward 443 to 8443 (load balancer in TCP passthrough, nft/iptables redirect) or grant CAP_NET_BIND_SERVICE (systemd AmbientCapabilities) rather than running as root.",
  },
  UPSTREAM_INVALID: {
    exit: 2,
    meaning: "The upstream is not an http:// (or https://) URL with a host, without user name, password, query or fragment.",
    hint: "Give the URL of your application, e.g. --upstream http://127.0.0.1:8080 (a path prefix is allowed: http://127.0.0.1:8080/thales).",
  },
  DEMO_STEP_FAILED: {
    exit: 1,
    meaning: "A step of `mtlskit demo` ran but did not give the result the demo checks for (a notification not delivered, a call failed during a renewal, an answer not as expected).",
    hint: "Read the step's message; run the demo again with --keep DIR to inspect the workspace and the emulator's state it leaves there.",
  },
  PKCS11_URI_INVALID: {
    exit: 2,
    meaning: "A PKCS#11 URI (RFC 7512) is malformed, names no object, or carries an attribute mtlskit does not know.",
    hint: 'Write it like "pkcs11:token=mtlskit;object=client-key" (percent-encode spaces and ;).',
  },
  PKCS11_MODULE_NOT_FOUND: {
    exit: 2,
    meaning: "No PKCS#11 module is set, or the module file does not exist or cannot be loaded.",
    hint: "Give --pkcs11-module PATH or set MTLSKIT_PKCS11_MODULE (SoftHSM: /usr/lib/softhsm/libsofthsm2.so from the Debian package softhsm2).",
  },
  PKCS11_TOKEN_NOT_FOUND: {
    exit: 2,
    meaning: "No token present in the PKCS#11 module matches the URI's token label (or serial, model, slot).",
    hint: "List the tokens (pkcs11-tool --module MODULE --list-token-slots) and fix token= in the URI.",
  },
  PKCS11_PIN_MISSING: {
    exit: 2,
    meaning: "A key in a token is used but no PIN is given.",
    hint: "Give --pin-file FILE (its first line is the PIN) or set MTLSKIT_PKCS11_PIN; mtlskit never stores a PIN.",
  },
  PKCS11_PIN_INCORRECT: {
    exit: 2,
    meaning: "The token refused the user PIN, or the PIN is locked after too many wrong tries.",
    hint: "Check the PIN file or MTLSKIT_PKCS11_PIN; a locked PIN is reset with the security officer PIN.",
  },
  PKCS11_KEY_NOT_FOUND: {
    exit: 2,
    meaning: "The token holds no private key with the URI's object label or id (or several, or an EC key without its public key object).",
    hint: "List the objects (pkcs11-tool --list-objects --login) and fix object= or id=; create a key with mtlskit key create --out pkcs11:...",
  },
  PKCS11_KEY_EXISTS: {
    exit: 2,
    meaning: "A key is to be created in a token under a label that an object of the token already has.",
    hint: "Choose another object= label: mtlskit never replaces a key in a token.",
  },
  PKCS11_MECHANISM_UNSUPPORTED: {
    exit: 2,
    meaning: "The token does not offer the mechanism or key type mtlskit needs (ECDSA P-256/P-384 or RSA PKCS#1 v1.5 signing, key-pair generation).",
    hint: "Use a key type the token supports, or a token that offers ECDSA or RSA signing.",
  },
  PKCS11_ENGINE_NOT_FOUND: {
    exit: 2,
    meaning: "A key in a token is to be used for TLS, but OpenSSL's pkcs11 engine (libp11) is not installed.",
    hint: "Install the Debian package libengine-pkcs11-openssl, or set MTLSKIT_PKCS11_ENGINE to the engine's pkcs11.so.",
  },
  PKCS11_ERROR: {
    exit: 2,
    meaning: "The PKCS#11 module returned an error mtlskit has no more precise code for; the message names the PKCS#11 return value.",
    hint: "Check the token (pkcs11-tool --list-objects --login) and the module's own logs.",
  },
  // ---- issue 10: monitoring, inputs and messages (h10a): add new codes below this line ----
  ALREADY_CLOSED: {
    exit: 3,
    meaning: "A library object was used after its close(): reload() of ReloadableCredentials, or a request through a ThalesDispatcher. close() itself may be called again; nothing else is done once closed.",
    hint: "Create a new one (ReloadableCredentials.load, createThalesDispatcher) and close it only when it is no longer used.",
  },
  WORKSPACE_NOT_FOUND: {
    exit: 2,
    meaning: "The workspace folder (--dir, $MTLSKIT_HOME or ./.mtlskit) does not exist or holds no mtlskit.yaml, so there is nothing to check.",
    hint: "Run the command from the right folder or give the workspace: --dir DIR (or MTLSKIT_HOME=DIR).",
  },
  NOT_A_DIRECTORY: {
    exit: 2,
    meaning: "A path given as a folder (--dir, an output folder) is a file, or one of its parents is.",
    hint: "Name a folder, or a path where one can be created.",
  },
  CERTIFICATE_DUPLICATED: {
    exit: 2,
    meaning: "A file to install holds the same certificate twice (often the leaf pasted again after the chain).",
    hint: "Keep one copy of each certificate, the client certificate first, then install again.",
  },
  TIME_INVALID: {
    exit: 2,
    meaning: "A UTCTime or GeneralizedTime in a certificate, CRL or CSR has a field out of range (month 13, day 32, hour 24, second 60...).",
    hint: "The file is damaged or was made by a broken tool; get it again from its issuer.",
  },

  // ---- issue 10: crash safety (h10b): add new codes below this line ----
  ASSET_NOT_REGULAR_FILE: {
    exit: 2,
    meaning: "A file of an asset bundle (or the single file given to assets import) is a symbolic link, a FIFO, a socket or a device; mtlskit reads only regular files there and never opens such a file.",
    hint: "Put the asset itself (a PEM file) in the bundle folder, not a link to it.",
  },

  // ---- issue 10: serve endpoint, emulator and portal (h10c): add new codes below this line ----
  TLS_NO_SHARED_CIPHER: {
    exit: 1,
    meaning: "TLS layer: the server refused the handshake at its first message, before asking for a client certificate: it shares no cipher suite (or key exchange group) with mtlskit, which offers only forward-secret AEAD suites (GCM, ChaCha20-Poly1305); a server offering only CBC suites ends here.",
    hint: "The server must offer an ECDHE AEAD suite (for example ECDHE-ECDSA-AES128-GCM-SHA256 or ECDHE-RSA-AES128-GCM-SHA256) or TLS 1.3; Thales endpoints do, so check that the host is really Thales's. Check what it offers with: openssl s_client -connect HOST:PORT -tls1_2.",
  },

  // ---- issue 11: library shape (h11a): add new codes below this line ----

  // ---- issue 11: one home per rule, costs (h11b): add new codes below this line ----

  // ---- issue 12: engines nginx/haproxy (h12a): add new codes below this line ----
  ENGINE_NOT_FOUND: {
    exit: 2,
    meaning: "The engine binary (nginx or haproxy) is not on PATH nor in /usr/sbin, nor at --engine-bin.",
    hint: "Install the Debian package (apt-get install nginx-light, or haproxy), or give its path with --engine-bin.",
  },
  ENGINE_CONFIG_INVALID: {
    exit: 1,
    meaning: "The engine refused the configuration mtlskit generated (nginx -t / haproxy -c); the message quotes the engine.",
    hint: "Read the engine's message; check the certificate, key and CA files of the profile, then reload or restart.",
  },
  ENGINE_EXITED: {
    exit: 1,
    meaning: "The engine (nginx or haproxy) started by mtlskit serve stopped on its own.",
    hint: "Read the engine's last log lines above; the run folder keeps its configuration and logs.",
  },
  ENGINE_KEY_UNSUPPORTED: {
    exit: 2,
    meaning: "This engine cannot use the server key where it is (for example a key in a PKCS#11 token with HAProxy).",
    hint: "Use --engine nginx (key referenced as engine:pkcs11:<uri>) or --engine node for a key in a token, or a key file.",
  },
  EXPORT_TARGET_EXISTS: {
    exit: 2,
    meaning: "The export folder already holds a generated configuration.",
    hint: "Give another --out folder, or --force to replace the files mtlskit writes there.",
  },

  // ---- issue 12: k8s export, workers (h12b): add new codes below this line ----
  SERVE_WORKERS_FAILING: {
    exit: 1,
    meaning: "The workers of mtlskit serve --workers died faster than they could be restarted, so serve stopped.",
    hint: "Read the workers' last log lines (worker_exited) for the cause; run with --workers 1 to see the error directly.",
  },

  // ---- issue 13: PKCS#12 and credentials (h13): add new codes below this line ----
  PKCS12_BAD_PASSPHRASE: {
    exit: 2,
    meaning: "The passphrase does not open the PKCS#12 file (its MAC or its encryption does not check out).",
    hint: "Give the passphrase the file was exported with, in a file: --passphrase-file FILE.",
  },
  PKCS12_INVALID: {
    exit: 2,
    meaning: "The file is not a readable PKCS#12: damaged, truncated or another format.",
    hint: "Export it again from its source (openssl pkcs12 -export, keytool) and check the transfer did not alter it.",
  },
  PKCS12_UNSUPPORTED_CIPHER: {
    exit: 2,
    meaning: "The PKCS#12 uses a cipher or MAC mtlskit does not read (RC4, public-key encryption, an unknown PBES2 cipher or PRF).",
    hint: "Convert it with OpenSSL 3: openssl pkcs12 -legacy -in OLD.p12 -nodes | openssl pkcs12 -export -out NEW.p12.",
  },
  PKCS12_NO_KEY: {
    exit: 2,
    meaning: "The PKCS#12 has no private key, or no certificate that goes with its key, where both are needed.",
    hint: "Export the key with its certificate into one PKCS#12 (openssl pkcs12 -export -inkey KEY -in CERT), or give PEM files.",
  },
  EXPORT_KEY_IN_TOKEN: {
    exit: 2,
    meaning: "The profile's key is in a PKCS#11 token and cannot leave it, so no key file or PKCS#12 can be exported.",
    hint: "Have the application use the token through its PKCS#11 provider (Java SunPKCS11, OpenSSL pkcs11 provider), or create a software key for it.",
  },
  PKCS12_PASSPHRASE_REQUIRED: {
    exit: 2,
    meaning: "A PKCS#12 file was given without its passphrase.",
    hint: "Give the passphrase in a file: --passphrase-file FILE (its first line).",
  },
  PKCS12_NOT_USABLE_HERE: {
    exit: 2,
    meaning: "A PKCS#12 file was given where only PEM or DER certificates and keys are taken.",
    hint: "Extract PEM files with openssl pkcs12 -in FILE -nokeys / -nocerts -noenc, or give it where a PKCS#12 is taken, with --passphrase-file.",
  },
  EXPORT_EXISTS: {
    exit: 2,
    meaning: "The export folder already holds files the export would replace.",
    hint: "Choose an empty folder with --out, or replace the files with --force.",
  },

  // ---- issue 14: keys in an HSM, profiles (h14b): add new codes below this line ----

  // ---- issue 15: portal page and dashboard (h15): add new codes below this line ----

  INTERNAL: {
    exit: 3,
    meaning: "mtlskit hit a bug.",
    hint: "Run again with --debug and report the output (it never contains private keys).",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A stable error code: the key of {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;
