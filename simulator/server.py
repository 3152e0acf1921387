"""The simulator's HTTP side: URL routing like NAV, fault injection, a threaded WSGI server.

  /<instance>/WS/<Company>/Page/<Service>[?wsdl]     page services (see pages.py)
  /<instance>/WS/<Company>/Codeunit/PortalServices   codeunit (see codeunit.py)
  /<instance>/WS/<Company>/services                  service list (NAV discovery document)
  /_control/<action>                                 test control (see control.py)
Anything else: 404 without a body.
"""
from __future__ import annotations

import base64
import logging
import socketserver
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from spyne.server.wsgi import WsgiApplication

from .codeunit import NAME as CODEUNIT_NAME
from .codeunit import build_codeunit_app
from .control import FaultControl, Stats, handle_control, injected_response
from .pages import build_page_app
from .schema import ENTITIES, ConnectionPool, connect, create_schema

log = logging.getLogger("simulator")


class SimState:
    def __init__(self, db_path: str, company: str = "DEMO", instance: str = "NAV",
                 auth: str | None = None) -> None:
        conn = connect(db_path)
        create_schema(conn)  # no-op on an existing DB
        conn.close()
        self.pool = ConnectionPool(db_path)
        self.company = company
        self.instance = instance
        self.auth = ("Basic " + base64.b64encode(auth.encode()).decode()) if auth else None
        self.stats = Stats()
        self.fault = FaultControl()


def _empty(start_response, status: str, headers=()):
    start_response(status, [("Content-Length", "0"), *headers])
    return [b""]


class Dispatcher:
    """The WSGI application: routes NAV-style URLs to one spyne app per service."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.services: dict[tuple[str, str], WsgiApplication] = {}
        for e in ENTITIES.values():
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
        if (len(parts) < 4 or parts[0].lower() != st.instance.lower() or parts[1] != "WS"
                or parts[2].lower() != st.company.lower()):
            return _empty(start_response, "404 Not Found")
        if st.auth and environ.get("HTTP_AUTHORIZATION") != st.auth:
            return _empty(start_response, "401 Unauthorized",
                          [("WWW-Authenticate", 'Basic realm="NAV"')])
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
        name, app = entry
        if environ.get("REQUEST_METHOD") == "POST":
            injected = st.fault.take(name)
            if injected:
                mode, seconds, body = injected
                st.stats.count(name, f"injected:{mode}")
                if mode == "delay":
                    import time
                    time.sleep(seconds)
                else:
                    return injected_response(mode, body, start_response)
        elif environ.get("QUERY_STRING", "").lower() != "wsdl":
            return _empty(start_response, "404 Not Found")
        return app(environ, start_response)


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        if log.isEnabledFor(logging.DEBUG):
            log.debug(format, *args)


def make_app(db_path: str, company: str = "DEMO", instance: str = "NAV",
             auth: str | None = None) -> Dispatcher:
    return Dispatcher(SimState(db_path, company, instance, auth))


def serve(db_path: str, host: str = "127.0.0.1", port: int = 7047, company: str = "DEMO",
          instance: str = "NAV", auth: str | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("spyne").setLevel(logging.CRITICAL)  # faults are answers, not errors
    app = make_app(db_path, company, instance, auth)
    httpd = make_server(host, port, app, server_class=ThreadingWSGIServer,
                        handler_class=QuietHandler)
    print(f"simulator: serving {db_path} at http://{host}:{httpd.server_port}/{instance}/WS/"
          f"{company}/ (Ctrl-C to stop)", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
