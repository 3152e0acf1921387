"""SOAP plumbing shared by the adapters (NAV, SAP): suds clients, the POST, failure classes.

- One suds `Client` per service URL, built once per process from the WSDL (a process-wide dict;
  optionally also cached on disk with suds' ObjectCache in `cache_dir`), and `Client.clone()`d
  once per thread.
- suds builds every request envelope from the WSDL (`nosend=True`), so argument names and types
  are checked against the service. The envelope is POSTed with urllib (one timeout per call) and
  the answer parsed with lxml: ~10x cheaper than suds' own SAX parser + object unmarshalling,
  and it lets us classify every failure ourselves.
- Every failure becomes a `BillingError` (see gateway.FaultKind): refused/reset -> CONNECTION,
  socket timeout -> TIMEOUT, SOAP fault -> FAULT (or LOCKED when the text says a record is
  locked by another user), other non-200 -> HTTP (with status), an answer that is not the
  expected XML -> MALFORMED. Messages never carry request data (IBANs) or credentials; anything
  IBAN-shaped in a server message is masked anyway.
- Authentication: HTTP basic (`auth="basic"`, the default, when a user name is set) or NTLM
  (`auth="ntlm"`: Windows authentication, as Dynamics NAV usually wants), through
  `RequestsTransport` below and a requests session with requests-ntlm. 401/403 -> AUTH.
"""
from __future__ import annotations

import base64
import http.client
import re
import socket
import threading
import urllib.error
import urllib.request

from lxml import etree

from .gateway import BillingError, FaultKind

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
# NAV's transient faults: a table or record locked by another session (retry later)
_LOCKED_RE = re.compile(r"locked by another user|deadlock|could not lock", re.I)


def _mask(text: str) -> str:
    return _IBAN_RE.sub(lambda m: m.group(0)[:4] + "****", text or "")


# --- suds clients: one per service and process, cloned per thread ---------------------------

_CLIENTS: dict[tuple, object] = {}
_CLIENTS_LOCK = threading.Lock()


def _auth_header(username: str, password: str) -> dict:
    if not username:
        return {}
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _make_transport(suds_transport):
    """`RequestsTransport`: a suds transport on a requests session.

    Hand-written because suds-community has no transport on requests: it ships urllib ones
    only, and its NTLM one (`suds.transport.https.WindowsHttpAuthenticated`) needs the Python-2
    era python-ntlm. NTLM authenticates a connection, not a request, so the handshake needs a
    client that keeps the connection open across it: requests' pool with requests-ntlm does.
    """
    from suds.transport import Reply, TransportError

    class RequestsTransport(suds_transport):
        def __init__(self, session, timeout: float) -> None:
            super().__init__()
            self.session = session
            self.timeout = timeout

        def open(self, request):  # the WSDL and its imports
            import io

            resp = self.session.get(request.url, headers=dict(request.headers or {}),
                                    timeout=self.timeout)
            if resp.status_code != 200:
                raise TransportError(f"HTTP {resp.status_code}", resp.status_code,
                                     io.BytesIO(resp.content))
            return io.BytesIO(resp.content)

        def send(self, request):
            resp = self.session.post(request.url, data=request.message,
                                     headers=dict(request.headers or {}), timeout=self.timeout)
            return Reply(resp.status_code, dict(resp.headers), resp.content)

    return RequestsTransport


def _base_client(wsdl_url: str, location: str, timeout: float, headers: dict,
                 cache_dir: str | None, session=None, identity: tuple = ()):
    key = (wsdl_url, tuple(sorted(headers.items())), cache_dir, identity)
    client = _CLIENTS.get(key)
    if client is not None:
        return client
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            from suds.cache import NoCache, ObjectCache
            from suds.client import Client
            from suds.transport import Transport
            from suds.transport.http import HttpTransport

            class _Transport(HttpTransport):  # WSDL fetch with the auth header
                def u2open(self, u2request, timeout=None):
                    for k, v in headers.items():
                        u2request.add_header(k, v)
                    return super().u2open(u2request, timeout=timeout)

            transport = (_make_transport(Transport)(session, timeout) if session is not None
                         else _Transport())
            cache = ObjectCache(location=cache_dir, days=1) if cache_dir else NoCache()
            client = Client(wsdl_url, cache=cache, timeout=timeout, transport=transport,
                            location=location, nosend=True, prettyxml=False)
            _CLIENTS[key] = client
    return client


def _clone(base):
    """`Client.clone()` without its deepcopy of the options.

    suds-community 1.2.0's `clone()` dies with RecursionError on Python 3.11 (deepcopy of its
    option "skins" hits `__getattr__` on half-built objects). Same as clone() otherwise: the
    parsed WSDL is shared, the options are copied (but not the transport, which cannot be linked
    to two option sets; we never send through it: requests are built with nosend=True and
    POSTed by `NavGateway._call`).
    """
    from suds.client import Client, ServiceSelector
    from suds.options import Options
    from suds.properties import Unskin

    class _Uninitialized(Client):
        def __init__(self):  # noqa: D107 - skip Client.__init__ (no WSDL load)
            pass

    clone = _Uninitialized()
    clone.options = Options()
    Unskin(clone.options).update(
        {k: v for k, v in Unskin(base.options).defined.items() if k != "transport"})
    clone.wsdl = base.wsdl
    clone.factory = base.factory
    clone.service = ServiceSelector(clone, base.wsdl.services)
    clone.sd = base.sd
    clone.messages = dict(tx=None, rx=None)
    return clone


def _unwrap_requests(exc: BaseException) -> BaseException:
    """requests' exceptions as the socket errors `_classify` knows."""
    import requests

    if isinstance(exc, requests.Timeout):
        return TimeoutError(str(exc))
    if isinstance(exc, requests.ConnectionError):
        return ConnectionError(str(exc))
    return exc


class SoapClient:
    """suds-built requests POSTed to `self._url(service)`; subclasses add the operations."""

    def __init__(self, base_url: str, username: str = "", password: str = "",
                 timeout: float = 10.0, page_size: int = 500,
                 cache_dir: str | None = None, auth: str = "basic") -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self.page_size = int(page_size)
        self.cache_dir = cache_dir
        self._local = threading.local()
        self._opener = urllib.request.build_opener()
        self.auth = (auth or "basic").lower()
        self._identity: tuple = ()
        if self.auth == "ntlm":
            import hashlib

            self._headers = {}
            self._identity = ("ntlm", username,
                              hashlib.sha256(f"{username}\0{password}".encode()).hexdigest())
            self._ntlm = (username, password)
        elif self.auth == "basic":
            self._headers = _auth_header(username, password)
        else:
            raise ValueError(f"BILLING_AUTH must be basic or ntlm, not {auth!r}")

    def _session(self):
        """NTLM: one requests session per thread (NTLM binds a connection to a user)."""
        session = getattr(self._local, "session", None)
        if session is None:
            import requests
            from requests_ntlm import HttpNtlmAuth

            session = self._local.session = requests.Session()
            session.auth = HttpNtlmAuth(*self._ntlm)
        return session

    def __repr__(self) -> str:  # no credentials
        return f"{type(self).__name__}({self.base_url!r})"

    def _url(self, service: str) -> str:
        raise NotImplementedError

    def _client(self, service: str, operation: str):
        clients = getattr(self._local, "clients", None)
        if clients is None:
            clients = self._local.clients = {}
        client = clients.get(service)
        if client is None:
            url = self._url(service)
            try:
                base = _base_client(url + "?wsdl", url, self.timeout, self._headers,
                                    self.cache_dir,
                                    self._session() if self.auth == "ntlm" else None,
                                    self._identity)
            except Exception as exc:  # noqa: BLE001 - classify everything
                raise self._classify(exc, operation, service, "WSDL") from None
            client = clients[service] = _clone(base)
        return client

    def _classify(self, exc: BaseException, operation: str, service: str,
                  what: str = "") -> BillingError:
        prefix = f"{what} " if what else ""
        status = getattr(exc, "httpcode", None) or getattr(exc, "code", None)
        if isinstance(exc, BillingError):
            return exc
        if isinstance(status, int) and status in (401, 403):
            return BillingError(FaultKind.AUTH, operation,
                                f"{prefix}billing refused the credentials (HTTP {status})",
                                service=service, status=status)
        if type(exc).__module__.startswith(("requests", "urllib3")):
            exc = _unwrap_requests(exc)
        if isinstance(exc, urllib.error.HTTPError) or (
                isinstance(status, int) and 100 <= status < 600):
            return BillingError(FaultKind.HTTP, operation, f"{prefix}HTTP {status}",
                                service=service, status=status)
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return BillingError(FaultKind.TIMEOUT, operation,
                                f"{prefix}no answer within {self.timeout:g} s", service=service)
        if isinstance(reason, (OSError, http.client.HTTPException)):
            return BillingError(FaultKind.CONNECTION, operation,
                                f"{prefix}cannot connect: {type(reason).__name__}",
                                service=service, detail=_mask(str(reason)))
        return BillingError(FaultKind.MALFORMED, operation,
                            f"{prefix}unreadable answer: {type(exc).__name__}",
                            service=service, detail=_mask(str(exc))[:500])

    def _call(self, service: str, operation: str, /, **params) -> etree._Element:
        """Build the request with suds, POST it, return the response element (Body's child)."""
        client = self._client(service, operation)
        try:
            method = getattr(client.service, operation)
            envelope = method(**params).envelope
        except Exception as exc:  # noqa: BLE001 - a bad argument for the WSDL
            raise BillingError(FaultKind.MALFORMED, operation,
                               f"cannot build the request: {type(exc).__name__}",
                               service=service, detail=_mask(str(exc))[:300]) from None
        headers = {"Content-Type": "text/xml; charset=utf-8",
                   "SOAPAction": f'"{self._soap_action(client, operation)}"', **self._headers}
        if self.auth == "ntlm":
            try:
                resp = self._session().post(self._url(service), data=envelope, headers=headers,
                                            timeout=self.timeout)
            except Exception as exc:  # noqa: BLE001 - refused, reset, timeout, ...
                raise self._classify(exc, operation, service) from None
            return self._response(resp.content, resp.status_code, service, operation)
        req = urllib.request.Request(self._url(service), data=envelope, headers=headers)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                body = exc.read()
            except Exception:  # noqa: BLE001
                body = b""
        except Exception as exc:  # noqa: BLE001 - refused, reset, timeout, ...
            raise self._classify(exc, operation, service) from None
        return self._response(body, status, service, operation)

    @staticmethod
    def _soap_action(client, operation: str) -> str:
        try:
            port = client.wsdl.services[0].ports[0]
            return port.methods[operation].soap.action.strip('"')
        except (AttributeError, IndexError, KeyError):
            return operation

    def _response(self, body: bytes, status: int, service: str, operation: str):
        root = None
        if body:
            try:
                root = etree.fromstring(body, parser=_PARSER)
            except etree.XMLSyntaxError:
                root = None
        soap_body = root.find(f"{{{SOAP_ENV}}}Body") if root is not None else None
        fault = soap_body.find(f"{{{SOAP_ENV}}}Fault") if soap_body is not None else None
        if fault is not None:
            text = (fault.findtext("faultstring") or "").strip()
            code = (fault.findtext("faultcode") or "").strip()
            kind = FaultKind.LOCKED if _LOCKED_RE.search(text) else FaultKind.FAULT
            raise BillingError(kind, operation, _mask(text) or "SOAP fault",
                               service=service, status=status, detail=_mask(code))
        if status in (401, 403):
            raise BillingError(FaultKind.AUTH, operation,
                               f"billing refused the credentials (HTTP {status})",
                               service=service, status=status)
        if status != 200:
            raise BillingError(FaultKind.HTTP, operation, f"HTTP {status}", service=service,
                               status=status)
        if soap_body is None or len(soap_body) == 0:
            raise BillingError(FaultKind.MALFORMED, operation,
                               "the answer is not a SOAP envelope", service=service,
                               status=status, detail=_mask(body[:200].decode("utf-8", "replace")))
        return soap_body[0]

