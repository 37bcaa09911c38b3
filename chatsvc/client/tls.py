"""
TLS for C{chatsvc-client}: the endpoint for C{--tls} (and C{--ca}), and why a
TLS connection failed, in words.

Verification is Twisted's own (L{optionsForClientTLS}: the certificate chain
against the trust roots, the host name against the certificate with
service_identity). A failure is never a reason to fall back to plain text,
nor one to try again: it is not transient.

test-case-name: tests.client.test_client_tls
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL
from service_identity import VerificationError
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.ssl import Certificate, optionsForClientTLS, trustRootFromCertificates
from twisted.python.failure import Failure

if TYPE_CHECKING:
    # Declared there, and not exported by twisted.internet.ssl.
    from twisted.internet._sslverify import IOpenSSLTrustRoot

DEFAULT_TLS_PORT = 8443


def load_trust_root(path: str | Path) -> IOpenSSLTrustRoot:
    """
    The CA certificates in the PEM file at C{path}, as the only roots to trust.
    L{OSError} if it cannot be read, L{ValueError} if it holds no certificate.
    """
    data = Path(path).read_bytes()
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError("no PEM certificate in it") from None
    roots: IOpenSSLTrustRoot = trustRootFromCertificates(
        [Certificate.loadPEM(c.public_bytes(Encoding.PEM)) for c in certificates]
    )
    return roots


def tls_endpoint(
    reactor: Any, host: str, port: int, trust: IOpenSSLTrustRoot | None = None
) -> IStreamClientEndpoint:
    """
    TLS to C{host} on C{port}, verifying the server's certificate for C{host}
    against C{trust}, or the system's trust store: what the C{tls:HOST:PORT}
    endpoint string makes, with the roots of C{--ca} if given.
    """
    return wrapClientTLS(
        optionsForClientTLS(host, trustRoot=trust), HostnameEndpoint(reactor, host, port)
    )


def is_tls_failure(reason: Failure | BaseException) -> bool:
    """Whether a connection failed in TLS: a certificate not trusted or not for the host, say."""
    error = reason.value if isinstance(reason, Failure) else reason
    return isinstance(error, SSL.Error | VerificationError)


def describe_tls_failure(error: BaseException) -> str:
    """Why a TLS connection failed, in one line."""
    if isinstance(error, VerificationError):
        names = ", ".join(_mismatched(e) for e in error.errors)
        return f"the server's certificate is not valid for {names or 'this host'}"
    if isinstance(error, SSL.Error):
        queue = error.args[0] if error.args and isinstance(error.args[0], list) else []
        reasons = [entry[2] for entry in queue if isinstance(entry, tuple) and len(entry) == 3]
        reason = reasons[-1] if reasons else str(error)
        if reason == "certificate verify failed":
            return "the server's certificate is not trusted (certificate verify failed)"
        return f"TLS failed: {reason}"
    return str(error)


def _mismatched(error: object) -> str:
    identity = getattr(error, "mismatched_id", None)
    for field in ("hostname", "ip", "uri"):
        value = getattr(identity, field, None)
        if value is not None:
            return value.decode() if isinstance(value, bytes) else str(value)
    return str(identity)
