"""Test certificates made at run time with the openssl command line (never committed):
the same commands the README gives an administrator. Expired certificates are made with
python3-cryptography, since `openssl x509 -req` cannot back-date."""
import datetime
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def sh(*args, cwd):
    r = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r


def make_ca(d: Path, name: str):
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "30", "-subj", f"/CN={name}", cwd=d)


def make_cert(d: Path, ca: str, name: str, cn: str, server=False, san=None):
    sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}", cwd=d)
    ext = d / f"{name}.ext"
    if server:
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    else:
        ext.write_text("extendedKeyUsage=clientAuth\n" + (f"subjectAltName={san}\n" if san else ""))
    sh("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
       "-CAcreateserial", "-out", f"{name}.crt", "-days", "30", "-extfile", ext.name, cwd=d)


def make_self_signed(d: Path, name: str, cn: str):
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "30", "-subj", f"/CN={cn}", cwd=d)


def make_expired(d: Path, ca: str, name: str, cn: str):
    ca_key = serialization.load_pem_private_key((d / f"{ca}.key").read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate((d / f"{ca}.crt").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=10))
            .not_valid_after(now - datetime.timedelta(days=1))
            .sign(ca_key, hashes.SHA256()))
    (d / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))


def make_pki(d: Path):
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    make_cert(d, "ca", "server", "localhost", server=True)
    make_cert(d, "ca", "car7", "car7")
    make_cert(d, "ca", "car8", "car8")
    make_cert(d, "ca", "car9-san", "not-the-name", san="email:car9@fleet.example,DNS:car9.fleet")
    make_cert(d, "other-ca", "wrong-ca", "car7")
    make_self_signed(d, "self-signed", "car7")
    make_expired(d, "ca", "expired", "car7")
    return d


def make_crl(d: Path, ca: str, revoked=(), days=30, name="ca.crl"):
    """A CRL signed by `ca` revoking the certificates named in `revoked`, valid for `days`."""
    ca_key = serialization.load_pem_private_key((d / f"{ca}.key").read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate((d / f"{ca}.crt").read_bytes())
    now = datetime.datetime.utcnow()
    b = (x509.CertificateRevocationListBuilder()
         .issuer_name(ca_cert.subject)
         .last_update(now - datetime.timedelta(days=3))
         .next_update(now + datetime.timedelta(days=days)))
    for cert_name in revoked:
        serial = x509.load_pem_x509_certificate((d / f"{cert_name}.crt").read_bytes()).serial_number
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder()
                                      .serial_number(serial).revocation_date(now).build())
    crl = b.sign(ca_key, hashes.SHA256())
    (d / name).write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return d / name


def mutual_tls(d: Path):
    """The listener keys of mutual TLS with make_pki's files, the certificate's CN as username."""
    return (f'tls.cert = "{d / "server.crt"}"\ntls.key = "{d / "server.key"}"\ntls.ca = "{d / "ca.crt"}"\n'
            "tls.require_certificate = true\ntls.use_identity_as_username = true\n")
