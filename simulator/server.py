"""The simulator's HTTP side: URL routing like NAV, fault injection, a threaded WSGI server.

  /<instance>/WS/<Company>/Page/<Service>[?wsdl]     page services (see pages.py)
  /<instance>/WS/<Company>/Codeunit/PortalServices   codeunit (see codeunit.py)
  /<instance>/WS/<Company>/services                  service list (NAV discovery document)
  /_control/<action>                                 test control (see control.py)
With `flavour="sap"` the same data set is served as SAP IS-U function modules instead (see
sap.py): /sap/bc/srt/rfc/sap/zisu_portal/<client>/zisu_portal/zisu_portal[?wsdl].
Anything else: 404 without a body.
"""
from __future__ import annotations

import base64
import logging
import socketserver
import threading
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer, make_server

from spyne.server.wsgi import WsgiApplication

from .codeunit import NAME as CODEUNIT_NAME
from .codeunit import build_codeunit_app
from .control import FaultControl, Stats, handle_control, injected_response
from .pages import build_page_app
from .schema import CHANGE_LOG, ENTITIES, ConnectionPool, connect, create_schema

log = logging.getLogger("simulator")


class SimState:
    def __init__(self, db_path: str, company: str = "DEMO", instance: str = "NAV",
                 auth: str | None = None, flavour: str = "nav") -> None:
        conn = connect(db_path)
        create_schema(conn)  # no-op on an existing DB
        conn.close()
        self.pool = ConnectionPool(db_path)
        self.company = company
        self.instance = instance
        # "user:password": HTTP basic; "ntlm": Windows authentication (NTLM), the users and
        # passwords read from the file NTLM_USER_FILE names (lines DOMAIN:USER:PASSWORD)
        self.ntlm = auth == "ntlm"
        self.auth = ("Basic " + base64.b64encode(auth.encode()).decode()) \
            if auth and not self.ntlm else None
        self.stats = Stats()
        self.fault = FaultControl()
        self.flavour = flavour


def _empty(start_response, status: str, headers=()):
    start_response(status, [("Content-Length", "0"), *headers])
    return [b""]


class Dispatcher:
    """The WSGI application: routes NAV-style URLs to one spyne app per service."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.services: dict[tuple[str, str], WsgiApplication] = {}
        if state.flavour == "sap":
            from . import sap

            self.sap_path = sap.path(state.company)
            self._add("sap", sap.SERVICE, sap.build_sap_app(state))
            return
        for e in (*ENTITIES.values(), CHANGE_LOG):
            self._add("page", e.name, build_page_app(e, state))
        self._add("codeunit", CODEUNIT_NAME, build_codeunit_app(state))

    def _add(self, kind: str, name: str, app) -> None:
        def on_call(ctx, name=name):
            self.state.stats.count(name, ctx.descriptor.name)
        app.event_manager.add_listener("method_call", on_call)
        self.services[(kind, name.lower())] = (name, WsgiApplication(app))

    def _services_doc(self, environ) -> bytes:
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        base = f"http://{host}/{self.state.instance}/WS/{self.state.company}"
        refs = "".join(
            f'<contractRef xmlns="http://schemas.xmlsoap.org/disco/scl/" '
            f'ref="{base}/{"Page" if kind == "page" else "Codeunit"}/{name}"/>'
            for (kind, _), (name, _) in self.services.items())
        return ('<?xml version="1.0" encoding="utf-8"?><discovery xmlns="urn:schemas-'
                f'microsoft-com:dynamics:NAV:MetadataDiscovery">{refs}</discovery>').encode()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "") or "/"
        if path.startswith("/_control/"):
            return handle_control(self.state, path[len("/_control/"):].strip("/"), environ,
                                  start_response)
        parts = [p for p in path.split("/") if p]
        st = self.state
        if st.flavour == "sap":
            return self._sap(environ, start_response, path)
        if (len(parts) < 4 or parts[0].lower() != st.instance.lower() or parts[1] != "WS"
                or parts[2].lower() != st.company.lower()):
            return _empty(start_response, "404 Not Found")
        refused = self._authenticate(environ, start_response, "NAV")
        if refused is not None:
            return refused
        if len(parts) == 4 and parts[3] == "services":
            body = self._services_doc(environ)
            start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        if len(parts) != 5:
            return _empty(start_response, "404 Not Found")
        entry = self.services.get((parts[3].lower(), parts[4].lower()))
        if entry is None:
            return _empty(start_response, "404 Not Found")
        return self._serve(entry, environ, start_response)

    def _authenticate(self, environ, start_response, realm: str):
        """None when the request may go on, else the 401 answer."""
        st = self.state
        if st.ntlm:
            return _ntlm(environ, start_response)
        if st.auth and environ.get("HTTP_AUTHORIZATION") != st.auth:
            return _empty(start_response, "401 Unauthorized",
                          [("WWW-Authenticate", f'Basic realm="{realm}"')])
        return None

    def _serve(self, entry, environ, start_response, also=()):
        name, app = entry
        st = self.state
        if environ.get("REQUEST_METHOD") == "POST":
            injected = st.fault.take(name, *also(environ)) if also and st.fault.service \
                else st.fault.take(name)
            if injected:
                mode, seconds, body = injected
                st.stats.count(name, f"injected:{mode}")
                if mode == "delay":
                    import time
                    time.sleep(seconds)
                elif st.flavour == "sap" and mode in ("lock", "message"):
                    environ["simulator.inject"] = (mode, body)  # an answer with RETURN E/A/W
                elif mode != "message":
                    return injected_response(mode, body, start_response)
        elif environ.get("QUERY_STRING", "").lower() != "wsdl":
            return _empty(start_response, "404 Not Found")
        return app(environ, start_response)

    def _sap(self, environ, start_response, path: str):
        if path.rstrip("/").lower() != self.sap_path:
            return _empty(start_response, "404 Not Found")
        refused = self._authenticate(environ, start_response,
                                     "SAP NetWeaver Application Server")
        if refused is not None:
            return refused
        from .sap import SERVICE

        return self._serve(self.services[("sap", SERVICE.lower())], environ, start_response,
                           _sap_names)


def _sap_names(environ) -> tuple[str, ...]:
    """The function module a SAP call names and, for a change-pointer read, its object: what a
    fault's `service` filter can match on the one SAP service."""
    import io
    import re

    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    names = [environ.get("HTTP_SOAPACTION", "").strip('"').rsplit("/", 1)[-1]]
    function = re.search(rb"<(?:\w+:)?(Z_\w+|BAPI_\w+|RFC_\w+)[\s>]", body)
    if function:
        names.append(function.group(1).decode())
    obj = re.search(rb"<(?:\w+:)?IV_OBJECT>(\w+)<", body)
    if obj:
        names.append(obj.group(1).decode())
    return tuple(names)


def _drain(environ) -> None:
    """Read the request body left unread, so the kept-alive connection stays in step."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        environ["wsgi.input"].read(length)


def _ntlm(environ, start_response):
    """NTLM as IIS does it: the connection is authenticated by a three-leg handshake.

    1. no token -> 401 `WWW-Authenticate: NTLM`; 2. NEGOTIATE -> 401 with the CHALLENGE;
    3. AUTHENTICATE -> checked by pyspnego against NTLM_USER_FILE; then the request is served
    and the connection stays authenticated. A wrong password: 401 again, no token.
    """
    conn = environ.get("simulator.connection")
    if conn is None:  # a server without kept-alive connections cannot do NTLM
        _drain(environ)
        return _empty(start_response, "500 Internal Server Error")
    if conn.get("ntlm_user"):
        return None
    header = environ.get("HTTP_AUTHORIZATION") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "ntlm" or not token:
        _drain(environ)
        conn.pop("ntlm_context", None)
        return _empty(start_response, "401 Unauthorized", [("WWW-Authenticate", "NTLM")])
    import spnego

    context = conn.get("ntlm_context")
    try:
        if context is None:
            context = conn["ntlm_context"] = spnego.server(protocol="ntlm")
        answer = context.step(base64.b64decode(token))
    except Exception as exc:  # noqa: BLE001 - wrong password, unknown user, bad token
        log.info("NTLM refused: %s", exc)
        conn.pop("ntlm_context", None)
        _drain(environ)
        return _empty(start_response, "401 Unauthorized", [("WWW-Authenticate", "NTLM")])
    if not context.complete:
        conn["ntlm_context"] = context
        _drain(environ)
        return _empty(start_response, "401 Unauthorized",
                      [("WWW-Authenticate", "NTLM " + base64.b64encode(answer).decode())])
    conn.pop("ntlm_context", None)
    conn["ntlm_user"] = context.client_principal or "?"
    return None


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        if log.isEnabledFor(logging.DEBUG):
            log.debug(format, *args)


class _KeptAliveServerHandler(ServerHandler):
    """HTTP/1.1 answers; one without a length closes the connection."""

    http_version = "1.1"
    keep_alive = False

    def cleanup_headers(self):
        super().cleanup_headers()
        if "Content-Length" not in self.headers:
            self.headers["Connection"] = "close"
        self.keep_alive = (self.headers.get("Connection") or "").lower() != "close"


class KeepAliveHandler(QuietHandler):
    """wsgiref's handler serves one request per connection; this one serves every request of a
    kept-alive HTTP/1.1 connection (NTLM authenticates the connection, not the request) and
    gives the application the connection's state as `environ["simulator.connection"]`."""

    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection_state: dict = {}

    def get_environ(self):
        env = super().get_environ()
        env["simulator.connection"] = self.connection_state
        return env

    def handle(self):
        self.close_connection = False
        while not self.close_connection:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                return
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.parse_request():
                return
            handler = _KeptAliveServerHandler(self.rfile, self.wfile, self.get_stderr(),
                                              self.get_environ(), multithread=True)
            handler.request_handler = self
            handler.run(self.server.get_app())
            if not handler.keep_alive:  # (run() has reset handler.headers)
                return
            self.wfile.flush()


def make_app(db_path: str, company: str = "DEMO", instance: str = "NAV",
             auth: str | None = None, flavour: str = "nav") -> Dispatcher:
    return Dispatcher(SimState(db_path, company, instance, auth, flavour))


def serve(db_path: str, host: str = "127.0.0.1", port: int = 7047, company: str = "DEMO",
          instance: str = "NAV", auth: str | None = None, flavour: str = "nav") -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("spyne").setLevel(logging.CRITICAL)  # faults are answers, not errors
    app = make_app(db_path, company, instance, auth, flavour)
    httpd = make_server(host, port, app, server_class=ThreadingWSGIServer,
                        handler_class=KeepAliveHandler if auth == "ntlm" else QuietHandler)
    where = app.sap_path if flavour == "sap" else f"/{instance}/WS/{company}/"
    print(f"simulator ({flavour}): serving {db_path} at http://{host}:{httpd.server_port}{where}"
          " (Ctrl-C to stop)", flush=True)
    from .pdf import warm_up

    threading.Thread(target=warm_up, name="pdf-warm-up", daemon=True).start()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
