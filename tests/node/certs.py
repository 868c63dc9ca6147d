"""Make a throwaway CA, server and client certificates.

Uses the `cryptography` package when it is installed, else the `openssl` CLI.
"""
from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import subprocess
from pathlib import Path

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:  # fall back to the openssl command line
    x509 = None


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: Path, key, cert) -> None:
    path.parent.joinpath(path.name + ".key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    path.parent.joinpath(path.name + ".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _openssl_pki(directory: Path, hosts: list[str], ca_name: str) -> Path:
    if shutil.which("openssl") is None:
        raise RuntimeError("neither the cryptography package nor the openssl CLI is available")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", f"/CN={ca_name}",
        "-addext", "basicConstraints=critical,CA:TRUE")
    for host in hosts:
        ext = directory / f"{host}.ext"
        ext.write_text(f"subjectAltName=DNS:{host},IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{host}.key", "-out", f"{host}.csr", "-subj", f"/CN={host}")
        run("x509", "-req", "-in", f"{host}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{host}.pem", "-days", "2", "-extfile", str(ext))
    return directory


def make_pki(directory: Path, hosts: list[str], ca_name: str = "Test CA") -> Path:
    if x509 is None:
        return _openssl_pki(directory, hosts, ca_name)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name(ca_name)).issuer_name(_name(ca_name))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    _write(directory / "ca", ca_key, ca)
    for host in hosts:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(_name(host)).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(host),
                                                            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                               critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write(directory / host, key, cert)
    return directory


def contexts(directory: Path, host: str, ca: str = "ca") -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context requiring client certs, client context verifying the server)."""
    srv = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(directory / f"{ca}.pem"))
    srv.load_cert_chain(str(directory / f"{host}.pem"), str(directory / f"{host}.key"))
    srv.verify_mode = ssl.CERT_REQUIRED
    cli = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(directory / f"{ca}.pem"))
    cli.load_cert_chain(str(directory / f"{host}.pem"), str(directory / f"{host}.key"))
    return srv, cli
